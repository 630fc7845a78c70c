"""Everything a benchmark run measured, in one record, and the targets it is held to.

``Results`` holds the machine and the settings, the load around the run, and the runs of
each phase (ingest, ceiling and baseline, lookups and the sweep, visibility, scaling,
memory); the tables and the plot are rendered from it, and ``--json`` writes it as it is.
The targets are the issue's (for ``make bench``: medians, this machine, default settings):
rates, latencies, shares and a memory ratio, measured at ``TARGET_CONNECTIONS``, and the
rule for offering another ASGI server. ``target_lines`` checks each target that the run
measured against its median figure, as PASS or MISS with the margin: the first section of
the results.
"""

from __future__ import annotations

from statistics import median

import attrs

from bench.ingest import CeilingRun, IngestRun
from bench.lookup import MEMCACHED_HIT, MEMORY_HIT, MISS, REDIS_HIT, ScenarioResult, SweepPoint
from bench.memory import MemoryRun
from bench.scaling import ScalingRun
from bench.visibility import VisibilityRun

# The targets (the issue's, for `make bench`: medians, this machine, default settings).
INGEST_RATE_TARGET = 20_000.0  # orders/s, 100,000 realistic orders
CEILING_SHARE_TARGET = 0.5  # of the raw COPY ceiling at the service's batch size
HIT_RATE_TARGET = 20_000.0  # memory-cache hits/s, one HTTP worker, 16 connections
P99_TARGET_MS = 5.0  # p99 of every kind of hit, same runs
SHARED_SHARE_TARGET = 0.8  # memcached and redis hits against memory hits, same run
MISS_RATE_TARGET = 5_000.0  # misses (PostgreSQL) per second
VISIBILITY_P99_TARGET_MS = 250.0  # publish acknowledged -> first 200, at 1,000 orders/s
MEMORY_TARGET = 2.0  # bytes per cached order at most twice its JSON
TARGET_CONNECTIONS = 16
OTHER_SERVER_FACTOR = 1.3  # another ASGI server is offered only if this much faster


@attrs.define
class Results:
    machine: dict[str, str]
    settings: dict[str, object]
    load_before: str = ""
    load_after: str = ""
    load_during: dict[str, str] = attrs.Factory(dict)  # phase -> load average at its start
    foreign_cores: dict[str, float] = attrs.Factory(dict)  # phase -> others' CPU, in cores
    servers: str = ""
    publish_seconds: float | None = None
    ingest: list[IngestRun] = attrs.Factory(list)
    ceiling: list[CeilingRun] = attrs.Factory(list)
    baseline: list[IngestRun] = attrs.Factory(list)
    baseline_commit_share: list[float] = attrs.Factory(list)
    lookups: list[ScenarioResult] = attrs.Factory(list)
    sweep: list[SweepPoint] = attrs.Factory(list)
    visibility: list[VisibilityRun] = attrs.Factory(list)
    scaling: list[ScalingRun] = attrs.Factory(list)
    memory: list[MemoryRun] = attrs.Factory(list)


def service_rate(results: Results) -> float | None:
    return median([r.rate for r in results.ingest]) if results.ingest else None


def ceiling_rates(results: Results) -> dict[int, float]:
    """The median ceiling rate of each batch size measured."""
    sizes = sorted({c.batch for c in results.ceiling})
    return {b: median([c.rate for c in results.ceiling if c.batch == b]) for b in sizes}


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


def visibility_ms(results: Results, quantile: str) -> float:
    return median([v.latency_ms[quantile] for v in results.visibility])


def _at_least(value: float, target: float, unit: str) -> tuple[bool, str]:
    if value >= target:
        return True, f"{value - target:,.0f} {unit} above the target"
    return False, f"**{target - value:,.0f} {unit} short**, {value / target:.0%} of the target"


def _at_most(value: float, target: float, unit: str, digits: int = 2) -> tuple[bool, str]:
    space = "" if unit == "x" else " "
    if value <= target:
        return True, f"{target - value:,.{digits}f}{space}{unit} under the limit"
    return False, (
        f"**{value - target:,.{digits}f}{space}{unit} over**, {value / target:.2f}x the limit"
    )


def targets(results: Results) -> list[tuple[bool, str]]:
    """(passed, one line) for each target that this run measured."""
    found: list[tuple[bool, str]] = []

    def add(check: tuple[bool, str], what: str, measured: str) -> None:
        found.append((check[0], f"{what}: {measured} ({check[1]})"))

    service = service_rate(results)
    if service:
        add(
            _at_least(service, INGEST_RATE_TARGET, "orders/s"),
            f"ingest at least {INGEST_RATE_TARGET:,.0f} orders/s",
            f"{service:,.0f} orders/s",
        )
    batch = int(str(results.settings["batch_size"]))
    ceilings = ceiling_rates(results)
    if service and batch in ceilings:
        share = service / ceilings[batch]
        ok = share >= CEILING_SHARE_TARGET
        gap = (
            f"{share - CEILING_SHARE_TARGET:.0%} above"
            if ok
            else f"**{CEILING_SHARE_TARGET - share:.0%} short**"
        )
        found.append(
            (
                ok,
                f"ingest at least {CEILING_SHARE_TARGET:.0%} of the raw COPY ceiling at the "
                f"same batch size ({batch:,}: {ceilings[batch]:,.0f} orders/s): {share:.0%} "
                f"({gap}; against the {max(ceilings):,}-order batch ceiling: "
                f"{service / ceilings[max(ceilings)]:.0%})",
            )
        )
    memory = closed_loop_result(results, MEMORY_HIT)
    if memory:
        add(
            _at_least(median_rate(memory), HIT_RATE_TARGET, "req/s"),
            f"memory hits at least {HIT_RATE_TARGET:,.0f} req/s (1 worker, "
            f"{TARGET_CONNECTIONS} connections)",
            f"{median_rate(memory):,.0f} req/s",
        )
    for name in (MEMORY_HIT, MEMCACHED_HIT, REDIS_HIT):
        hit = closed_loop_result(results, name)
        if hit is None:
            continue
        if name != MEMORY_HIT and memory:
            share = median_rate(hit) / median_rate(memory)
            ok = share >= SHARED_SHARE_TARGET
            gap = (
                f"{share - SHARED_SHARE_TARGET:.0%} above"
                if ok
                else f"**{SHARED_SHARE_TARGET - share:.0%} short**"
            )
            found.append(
                (
                    ok,
                    f"{name}s at least {SHARED_SHARE_TARGET:.0%} of the memory-hit rate: "
                    f"{median_rate(hit):,.0f} req/s, {share:.0%} ({gap})",
                )
            )
        add(
            _at_most(median_p99(hit), P99_TARGET_MS, "ms"),
            f"{name} p99 at most {P99_TARGET_MS:g} ms ({TARGET_CONNECTIONS} connections, "
            "closed loop)",
            f"{median_p99(hit):.2f} ms",
        )
    miss = closed_loop_result(results, MISS)
    if miss:
        add(
            _at_least(median_rate(miss), MISS_RATE_TARGET, "req/s"),
            f"misses (PostgreSQL) at least {MISS_RATE_TARGET:,.0f} req/s (1 worker)",
            f"{median_rate(miss):,.0f} req/s",
        )
    if results.visibility:
        p99 = visibility_ms(results, "p99")
        add(
            _at_most(p99, VISIBILITY_P99_TARGET_MS, "ms", digits=0),
            f"publish -> visible through GET p99 at most {VISIBILITY_P99_TARGET_MS:.0f} ms at "
            f"{results.visibility[0].target_rate:,.0f} orders/s",
            f"{p99:,.0f} ms",
        )
    if results.memory:
        ratio = median([r.ratio for r in results.memory])
        add(
            _at_most(ratio, MEMORY_TARGET, "x"),
            f"memory per cached order at most {MEMORY_TARGET:g}x its JSON",
            f"{ratio:.2f}x",
        )
    return found


def target_lines(results: Results) -> list[str]:
    found = targets(results)
    if not found:
        return []
    passed = sum(ok for ok, _ in found)
    return [
        f"### Targets: {passed} of {len(found)} pass",
        "",
        *(f"- **{'PASS' if ok else 'MISS'}** {text}" for ok, text in found),
    ]
