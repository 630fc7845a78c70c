"""The lookup section of the results: the closed-loop table of every scenario and reference
app, the comparison with the bare ASGI ceiling and with granian, and the table of the paced
sweep; with the medians of a scenario's runs that the targets read too.
"""

from __future__ import annotations

from bench.lookup_scenarios import (
    BARE_ASGI,
    MEMORY_HIT,
    MINIMAL_STARLETTE,
    ON_GRANIAN,
    ScenarioResult,
)
from bench.markdown import format_ms, format_share, runs_label, table
from bench.median import median
from bench.results import Results
from bench.targets import OTHER_SERVER_FACTOR, TARGET_CONNECTIONS


def closed_loop_result(results: Results, scenario: str, workers: int = 1) -> ScenarioResult | None:
    """The scenario's closed-loop result at the targets' connections (one worker unless told)."""
    for r in results.lookups:
        if (r.scenario, r.workers, r.connections) == (scenario, workers, TARGET_CONNECTIONS):
            return r
    return None


def median_rate(r: ScenarioResult) -> float:
    return median([w.rate for w in r.runs])


def median_p99(r: ScenarioResult) -> float:
    return median([w.latency_ms["p99"] for w in r.runs])


def lookup_lines(results: Results) -> list[str]:
    if not results.lookups:
        return []
    runs = len(results.lookups[0].runs)
    seconds = results.settings["wrk_seconds"]
    memory = closed_loop_result(results, MEMORY_HIT)
    bare = closed_loop_result(results, BARE_ASGI)
    rows = []
    for r in results.lookups:
        lat = {q: median([w.latency_ms[q] for w in r.runs]) for q in ("p50", "p99", "p99.9")}
        rate = median_rate(r)
        same = r.connections == TARGET_CONNECTIONS and r.workers == 1
        rows.append(
            [
                r.scenario,
                str(r.workers),
                str(r.connections),
                f"{rate:,.0f}",
                format_ms(lat["p50"]),
                format_ms(lat["p99"]),
                format_ms(lat["p99.9"]),
                f"{median(r.server_cores):.2f}" if r.server_cores else "-",
                "-" if r.hit_ratio is None else f"{r.hit_ratio:.1%}",
                format_share(rate / median_rate(memory)) if memory and same else "-",
                format_share(rate / median_rate(bare)) if bare and same else "-",
            ]
        )
    lines = [
        f"### Lookup: GET /order?id=..., closed loop (wrk -t1, {seconds:g} s, {runs_label(runs)})",
        "",
        *table(
            [
                "scenario",
                "workers",
                "conns",
                "req/s",
                "p50 ms",
                "p99 ms",
                "p99.9 ms",
                "server cores",
                "hits",
                "of memory hit",
                "of bare ASGI",
            ],
            rows,
        ),
        "",
        f"{results.settings['lookup_ids']:,} distinct ids round-robin. *hits*: the service's "
        "own cache hit ratio (from /metrics, one-worker runs only). *server cores*: CPU time "
        "the server used during the run divided by its length (1.00: one core busy). "
        "Memcached and Redis run with the near cache on (the default, 50,000 orders), so "
        "their hits are answered from process memory once an order has been read. The "
        "reference apps answer every request with one order document of average size and "
        "the service's headers, on uvicorn with the service's settings (uvloop, httptools). "
        "wrk and the server share the machine's 2 cores.",
    ]
    if memory and bare:
        starlette = closed_loop_result(results, MINIMAL_STARLETTE)
        text = (
            f"Memory hits run at **{median_rate(memory) / median_rate(bare):.0%} of the bare ASGI "
            f"ceiling** ({median_rate(memory):,.0f} against {median_rate(bare):,.0f} req/s)"
        )
        if starlette:
            text += (
                f" and at {median_rate(memory) / median_rate(starlette):.0%} of the minimal "
                f"Starlette route ({median_rate(starlette):,.0f} req/s)"
            )
        lines += ["", text + "."]
    lines += _granian_lines(results)
    if results.sweep:
        rows = []
        for point in results.sweep:
            rows.append(
                [
                    point.scenario,
                    f"{point.fraction:.0%}",
                    f"{median([w.target_rate or 0 for w in point.runs]):,.0f}",
                    f"{median([w.rate for w in point.runs]):,.0f}",
                    format_ms(median([w.latency_ms["p50"] for w in point.runs])),
                    format_ms(median([w.latency_ms["p99"] for w in point.runs])),
                    format_ms(median([w.latency_ms["p99.9"] for w in point.runs])),
                ]
            )
        sweep_runs = len(results.sweep[0].runs)
        lines += [
            "",
            f"### Lookup at a fixed rate (1 worker, {results.settings['sweep_connections']} "
            f"connections, {results.settings['sweep_seconds']:g} s, {runs_label(sweep_runs)})",
            "",
            *table(
                ["scenario", "of max", "target/s", "req/s", "p50 ms", "p99 ms", "p99.9 ms"], rows
            ),
            "",
            "*of max*: share of the scenario's closed-loop rate above. wrk has no fixed rate "
            "mode and Debian has no wrk2, so `bench/lookup.lua` paces requests with wrk's "
            "`delay()` on a schedule; latency is timed from each request's send (no "
            "coordinated-omission correction), which is faithful while the load is under "
            "the maximum.",
        ]
    return lines


def _granian_lines(results: Results) -> list[str]:
    """The other-server rule: granian is worth offering only if it is 1.3x faster."""
    pairs = [
        (what, closed_loop_result(results, name), closed_loop_result(results, name + ON_GRANIAN))
        for what, name in (("the service's memory hits", MEMORY_HIT), ("bare ASGI", BARE_ASGI))
    ]
    found = [
        f"{what}: {median_rate(other) / median_rate(base):.2f}x ({median_rate(other):,.0f} against "
        f"{median_rate(base):,.0f} req/s)"
        for what, base, other in pairs
        if base and other
    ]
    if not found:
        return []
    service = pairs[0]
    verdict = ""
    if service[1] and service[2]:
        factor = median_rate(service[2]) / median_rate(service[1])
        verdict = (
            f" It {'qualifies' if factor >= OTHER_SERVER_FACTOR else 'does not qualify'} as an "
            f"option (the rule: at least {OTHER_SERVER_FACTOR}x uvicorn in the same run)."
        )
    return ["", "On granian against uvicorn, same run: " + "; ".join(found) + "." + verdict]
