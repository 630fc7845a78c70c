"""The results: markdown tables, the targets as PASS/MISS, and the latency-against-load plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from bench.ceiling import CeilingRun
from bench.ingest import IngestRun
from bench.lookup_scenarios import (
    BARE_ASGI,
    MEMCACHED_HIT,
    MEMORY_HIT,
    MINIMAL_STARLETTE,
    MISS,
    ON_GRANIAN,
    REDIS_HIT,
    ScenarioResult,
    SweepPoint,
)
from bench.median import median
from bench.memory import MemoryRun
from bench.scaling import PARTITIONS as SCALING_PARTITIONS
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


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    right = [i > 0 for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rules = [
        ("-" * (w + 1) + ":") if r else ("-" * (w + 2)) for w, r in zip(widths, right, strict=True)
    ]
    rule = "|" + "|".join(rules) + "|"
    return [line(header), rule, *(line(r) for r in rows)]


def _runs(count: int) -> str:
    return "1 run" if count == 1 else f"median of {count} runs"


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def _share(value: float) -> str:
    return f"{value:.0%}"


def machine_lines(results: Results) -> list[str]:
    m = results.machine
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM; {m['os']}; "
        f"Python {m['python']}, PostgreSQL {m['postgresql']}, Kafka {m['kafka']} "
        f"(librdkafka {m['librdkafka']}), wrk {m['wrk']}. Code: {m.get('code', 'unknown')}.",
        f"Servers: {results.servers}. Load average (1, 5, 15 min) before the run: "
        f"{results.load_before}; after: {results.load_after or 'n/a'}.",
    ]
    if results.foreign_cores:
        during = ", ".join(f"{k} {v:.2f}" for k, v in results.foreign_cores.items())
        lines.append(
            "CPU used by other processes on the machine (neither the bench nor the servers) "
            f"during each phase, in cores: {during}."
        )
    return lines


# -- ingest -------------------------------------------------------------------------------


def service_rate(results: Results) -> float | None:
    return median([r.rate for r in results.ingest]) if results.ingest else None


def ceiling_rates(results: Results) -> dict[int, float]:
    """The median ceiling rate of each batch size measured."""
    sizes = sorted({c.batch for c in results.ceiling})
    return {b: median([c.rate for c in results.ceiling if c.batch == b]) for b in sizes}


def ingest_lines(results: Results) -> list[str]:
    if not results.ingest and not results.ceiling:
        return []
    batch = int(str(results.settings["batch_size"]))
    ceilings = ceiling_rates(results)
    service = service_rate(results)
    header = ["path", "orders", "per transaction", "seconds", "orders/s"]
    header += [f"service / ceiling {b:,}" for b in ceilings]
    rows = []

    def ratios(rate: float | None) -> list[str]:
        return [_share(rate / c) if rate else "-" for c in ceilings.values()]

    if results.ingest:
        runs = results.ingest
        rows.append(
            [
                "service: `order-service consume` (prepare N+1 while N is stored by COPY)",
                f"{runs[0].orders:,}",
                f"up to {batch:,}",
                f"{median([r.seconds for r in runs]):.2f}",
                f"{service:,.0f}",
                *ratios(service),
            ]
        )
    for size, rate in ceilings.items():
        runs_c = [c for c in results.ceiling if c.batch == size]
        rows.append(
            [
                "raw ceiling: prebuilt tuples, binary COPY, no Kafka/parsing/validation",
                f"{runs_c[0].orders:,}",
                f"{size:,}",
                f"{median([c.seconds for c in runs_c]):.2f}",
                f"{rate:,.0f}",
                *["-" for _ in ceilings],
            ]
        )
    if results.baseline:
        base = median([r.rate for r in results.baseline])
        rows.append(
            [
                "naive baseline: poll 1 message, per-row INSERTs, commit offset",
                f"{results.baseline[0].orders:,}",
                "1",
                f"{median([r.seconds for r in results.baseline]):.1f}",
                f"{base:,.0f}",
                *["-" for _ in ceilings],
            ]
        )
    count = max(len(results.ingest), len(results.ceiling) // max(len(ceilings), 1))
    lines = [
        f"### Ingest: Kafka -> PostgreSQL ({_runs(count)})",
        "",
        *_table(header, rows),
        "",
        "Service: an `order-service consume` process, default settings; messages published "
        "before the clock starts; the clock runs from the start of its consumer loop (group "
        "join included) to the commit of the last order's transaction; fresh database and "
        "consumer group per run. Raw ceiling: the same "
        "orders' rows, built as tuples before the clock, loaded into the same tables of a "
        "fresh database by the repository's own `copy_rows`, in transactions of *per "
        "transaction* orders; the clock covers the COPYs and commits only.",
    ]
    if results.ingest and service:
        join = median([r.first_batch_seconds for r in results.ingest])
        text = f"The service's first batch was committed {join:.2f} s after its start."
        if results.baseline:
            base = median([r.rate for r in results.baseline])
            share = median(results.baseline_commit_share)
            text += (
                f" Against the naive baseline: **{service / base:.0f}x** (the baseline runs "
                f"on the first {results.baseline[0].orders:,} messages only; {share:.0%} of "
                "its time is its synchronous offset commit per message)."
            )
        if batch in ceilings:
            text += (
                f" Against the raw ceiling at the same batch size ({batch:,}): "
                f"**{service / ceilings[batch]:.0%}**."
            )
        lines.append(text)
    return lines


# -- lookups ------------------------------------------------------------------------------


def _closed(results: Results, scenario: str, workers: int = 1) -> ScenarioResult | None:
    for r in results.lookups:
        if (r.scenario, r.workers, r.connections) == (scenario, workers, TARGET_CONNECTIONS):
            return r
    return None


def _rate(r: ScenarioResult) -> float:
    return median([w.rate for w in r.runs])


def _p99(r: ScenarioResult) -> float:
    return median([w.latency_ms["p99"] for w in r.runs])


def lookup_lines(results: Results) -> list[str]:
    if not results.lookups:
        return []
    runs = len(results.lookups[0].runs)
    seconds = results.settings["wrk_seconds"]
    memory = _closed(results, MEMORY_HIT)
    bare = _closed(results, BARE_ASGI)
    rows = []
    for r in results.lookups:
        lat = {q: median([w.latency_ms[q] for w in r.runs]) for q in ("p50", "p99", "p99.9")}
        rate = _rate(r)
        same = r.connections == TARGET_CONNECTIONS and r.workers == 1
        rows.append(
            [
                r.scenario,
                str(r.workers),
                str(r.connections),
                f"{rate:,.0f}",
                _ms(lat["p50"]),
                _ms(lat["p99"]),
                _ms(lat["p99.9"]),
                f"{median(r.server_cores):.2f}" if r.server_cores else "-",
                "-" if r.hit_ratio is None else f"{r.hit_ratio:.1%}",
                _share(rate / _rate(memory)) if memory and same else "-",
                _share(rate / _rate(bare)) if bare and same else "-",
            ]
        )
    lines = [
        f"### Lookup: GET /order?id=..., closed loop (wrk -t1, {seconds:g} s, {_runs(runs)})",
        "",
        *_table(
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
        starlette = _closed(results, MINIMAL_STARLETTE)
        text = (
            f"Memory hits run at **{_rate(memory) / _rate(bare):.0%} of the bare ASGI "
            f"ceiling** ({_rate(memory):,.0f} against {_rate(bare):,.0f} req/s)"
        )
        if starlette:
            text += (
                f" and at {_rate(memory) / _rate(starlette):.0%} of the minimal Starlette "
                f"route ({_rate(starlette):,.0f} req/s)"
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
                    _ms(median([w.latency_ms["p50"] for w in point.runs])),
                    _ms(median([w.latency_ms["p99"] for w in point.runs])),
                    _ms(median([w.latency_ms["p99.9"] for w in point.runs])),
                ]
            )
        sweep_runs = len(results.sweep[0].runs)
        lines += [
            "",
            f"### Lookup at a fixed rate (1 worker, {results.settings['sweep_connections']} "
            f"connections, {results.settings['sweep_seconds']:g} s, {_runs(sweep_runs)})",
            "",
            *_table(
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
        (what, _closed(results, name), _closed(results, name + ON_GRANIAN))
        for what, name in (("the service's memory hits", MEMORY_HIT), ("bare ASGI", BARE_ASGI))
    ]
    found = [
        f"{what}: {_rate(other) / _rate(base):.2f}x ({_rate(other):,.0f} against "
        f"{_rate(base):,.0f} req/s)"
        for what, base, other in pairs
        if base and other
    ]
    if not found:
        return []
    service = pairs[0]
    verdict = ""
    if service[1] and service[2]:
        factor = _rate(service[2]) / _rate(service[1])
        verdict = (
            f" It {'qualifies' if factor >= OTHER_SERVER_FACTOR else 'does not qualify'} as an "
            f"option (the rule: at least {OTHER_SERVER_FACTOR}x uvicorn in the same run)."
        )
    return ["", "On granian against uvicorn, same run: " + "; ".join(found) + "." + verdict]


# -- visibility ---------------------------------------------------------------------------


def _visibility(results: Results, quantile: str) -> float:
    return median([v.latency_ms[quantile] for v in results.visibility])


def visibility_lines(results: Results) -> list[str]:
    if not results.visibility:
        return []
    v = results.visibility
    row = [
        f"{median([r.published for r in v]):,.0f}",
        f"{median([r.rate for r in v]):,.0f}",
        *(_ms(_visibility(results, q)) for q in ("p50", "p90", "p99", "max")),
        f"{median([r.gets for r in v]):,.0f}",
        f"{median([r.mean_batch or 0 for r in v]):,.0f}",
        f"{median([r.mean_save_ms or 0 for r in v]):,.0f}",
    ]
    return [
        f"### Visibility: publish acknowledged -> first 200 from GET ({_runs(len(v))})",
        "",
        *_table(
            [
                "orders",
                "published/s",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
                "GETs",
                "mean batch",
                "mean store ms",
            ],
            [row],
        ),
        "",
        "`order-service serve` (HTTP and consumer in one process, default settings) on a fresh "
        "topic and database; a producer with the service's publisher settings publishes at a "
        "steady rate for the window and notes each acknowledgement; a poller asks "
        "`GET /order?id=` for each partition's oldest unseen order every 5 ms and, once it "
        "answers 200, for the following ones at once (see `bench/visibility.py`). *mean "
        "batch* and *mean store ms*: the consumer's batches meanwhile, from its /metrics.",
    ]


# -- scaling ------------------------------------------------------------------------------


def scaling_rates(results: Results) -> dict[int, float]:
    counts = sorted({r.instances for r in results.scaling})
    return {n: median([r.rate for r in results.scaling if r.instances == n]) for n in counts}


def scaling_lines(results: Results) -> list[str]:
    if not results.scaling:
        return []
    rates = scaling_rates(results)
    one = rates.get(1)
    rows = []
    for n, rate in rates.items():
        runs = [r for r in results.scaling if r.instances == n]

        def per_order(cpu: list[float], runs: list[ScalingRun] = runs) -> str:
            return f"{median([1e6 * c / r.orders for c, r in zip(cpu, runs, strict=True)]):.0f}"

        kafka = [r.kafka_cpu for r in runs if r.kafka_cpu is not None]
        rows.append(
            [
                str(n),
                f"{runs[0].orders:,}",
                f"{median([r.seconds for r in runs]):.2f}",
                f"{rate:,.0f}",
                f"{rate / n:,.0f}",
                f"{rate / one:.2f}x" if one else "-",
                per_order([r.consumer_cpu for r in runs]),
                per_order([r.postgres_cpu for r in runs]),
                per_order(kafka) if len(kafka) == len(runs) else "-",
                f"{median([r.stored_bytes / r.orders for r in runs]):,.0f}",
                f"{median([r.wal_bytes / r.orders for r in runs]):,.0f}",
            ]
        )
    count = len(results.scaling) // max(len(rates), 1)
    return [
        f"### Consumer scaling: `order-service consume` processes in one group ({_runs(count)})",
        "",
        *_table(
            [
                "instances",
                "orders",
                "seconds",
                "orders/s",
                "per instance",
                "vs 1",
                "CPU us/order: consumers",
                "PostgreSQL",
                "Kafka broker",
                "stored bytes/order",
                "WAL bytes/order",
            ],
            rows,
        ),
        "",
        f"A fresh topic of {SCALING_PARTITIONS} partitions and a fresh database per run; the "
        "processes start with the default settings and join the group before anything is "
        "published; the clock runs from the first publish (the bench publishes as fast as the "
        "service's publisher goes, overlapping the consuming) to the moment PostgreSQL holds "
        "every order. *CPU us/order*: CPU time used during the run by the consumer processes, "
        "by the PostgreSQL processes of their connections and by the Kafka broker (which also "
        "serves the bench's publisher), divided by the orders. *stored bytes/order*: the four "
        "tables with their indexes at the end; *WAL bytes/order*: the WAL the PostgreSQL server "
        "wrote during the run (all its databases: an upper bound on a shared server).",
    ]


# -- memory -------------------------------------------------------------------------------


def memory_lines(results: Results) -> list[str]:
    if not results.memory:
        return []
    m = results.memory
    row = [
        f"{m[0].orders:,}",
        f"{median([r.rss_before for r in m]) / 2**20:,.1f}",
        f"{median([r.rss_after for r in m]) / 2**20:,.1f}",
        f"{median([r.bytes_per_order for r in m]):,.0f}",
        f"{median([r.avg_json_bytes for r in m]):,.0f}",
        f"{median([r.ratio for r in m]):.2f}x",
    ]
    return [
        f"### Memory: the memory cache ({_runs(len(m))})",
        "",
        *_table(
            [
                "orders cached",
                "RSS before MiB",
                "RSS after MiB",
                "bytes/order",
                "JSON bytes",
                "ratio",
            ],
            [row],
        ),
        "",
        "RSS (VmRSS) of the `order-service http` process after a warm-up of that many orders "
        "through `POST /admin/cache/warm`, against the same process with an empty cache.",
    ]


# -- targets ------------------------------------------------------------------------------


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
    memory = _closed(results, MEMORY_HIT)
    if memory:
        add(
            _at_least(_rate(memory), HIT_RATE_TARGET, "req/s"),
            f"memory hits at least {HIT_RATE_TARGET:,.0f} req/s (1 worker, "
            f"{TARGET_CONNECTIONS} connections)",
            f"{_rate(memory):,.0f} req/s",
        )
    for name in (MEMORY_HIT, MEMCACHED_HIT, REDIS_HIT):
        hit = _closed(results, name)
        if hit is None:
            continue
        if name != MEMORY_HIT and memory:
            share = _rate(hit) / _rate(memory)
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
                    f"{_rate(hit):,.0f} req/s, {share:.0%} ({gap})",
                )
            )
        add(
            _at_most(_p99(hit), P99_TARGET_MS, "ms"),
            f"{name} p99 at most {P99_TARGET_MS:g} ms ({TARGET_CONNECTIONS} connections, "
            "closed loop)",
            f"{_p99(hit):.2f} ms",
        )
    miss = _closed(results, MISS)
    if miss:
        add(
            _at_least(_rate(miss), MISS_RATE_TARGET, "req/s"),
            f"misses (PostgreSQL) at least {MISS_RATE_TARGET:,.0f} req/s (1 worker)",
            f"{_rate(miss):,.0f} req/s",
        )
    if results.visibility:
        p99 = _visibility(results, "p99")
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


def report(results: Results) -> str:
    sections = [
        machine_lines(results),
        target_lines(results),
        ingest_lines(results),
        lookup_lines(results),
        visibility_lines(results),
        scaling_lines(results),
        memory_lines(results),
    ]
    return "\n\n".join("\n".join(s) for s in sections if s) + "\n"


def plot(results: Results, path: Path) -> None:
    """Latency percentiles against the achieved request rate, one panel per scenario."""
    names = list(dict.fromkeys(p.scenario for p in results.sweep))
    if not names:
        return
    columns = 2 if len(names) > 2 else len(names)
    rows = (len(names) + columns - 1) // columns
    fig = Figure(figsize=(5.5 * columns, 4.2 * rows))
    FigureCanvasAgg(fig)  # render with Agg: no display, no pyplot state
    axes = list(fig.subplots(rows, columns, squeeze=False).flat)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    for ax, name in zip(axes, names, strict=False):
        points = sorted((p for p in results.sweep if p.scenario == name), key=lambda p: p.fraction)
        # Offered load on the x axis: past saturation the achieved rate falls behind it.
        rates = [median([w.target_rate or w.rate for w in p.runs]) for p in points]
        for quantile, style in (("p50", "o-"), ("p99", "s-"), ("p99.9", "^-")):
            values = [median([w.latency_ms[quantile] for w in p.runs]) for p in points]
            ax.plot(rates, values, style, label=quantile)
        for point, offered in zip(points, rates, strict=True):
            achieved = median([w.rate for w in point.runs])
            if achieved < 0.97 * offered:
                p50 = median([w.latency_ms["p50"] for w in point.runs])
                ax.annotate(f"saturated: {achieved:,.0f}/s done", (offered, p50), fontsize=7,
                            textcoords="offset points", xytext=(-90, -14))  # fmt: skip
        closed = [r for r in results.lookups if r.scenario == name and r.workers == 1]
        for r in closed:
            rate = median([w.rate for w in r.runs])
            p99 = median([w.latency_ms["p99"] for w in r.runs])
            ax.plot([rate], [p99], "kx")
            ax.annotate(f"p99, closed loop c={r.connections}", (rate, p99), fontsize=7,
                        textcoords="offset points", xytext=(-100, -12))  # fmt: skip
        if "hit" in name:
            ax.axhline(P99_TARGET_MS, color="grey", linestyle="--", linewidth=1)
            ax.annotate("p99 target", (rates[-1], P99_TARGET_MS), fontsize=7,
                        textcoords="offset points", xytext=(-40, 3))  # fmt: skip
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{name} (1 worker)")
        ax.set_xlabel("requests per second offered (paced); x: closed loop")
        ax.set_ylabel("latency, ms")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    m = results.machine
    fig.suptitle(
        f"order-service GET /order latency against load - {m['cpu']}, {m['cores']} cores",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
