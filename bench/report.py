"""The results: markdown tables, the targets as PASS/MISS, and the latency-against-load plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from bench.ingest import IngestRun
from bench.lookup import ScenarioResult, SweepPoint, median
from bench.memory import MemoryRun

INGEST_TARGET = 10.0  # the service's path at least 10x the naive baseline
P99_TARGET_MS = 5.0  # a cache hit's p99 at half the highest measured rate
MEMORY_TARGET = 2.0  # bytes per cached order at most twice its JSON
TARGET_FRACTION = 0.5

LOOKUP_HEADER = [
    "scenario",
    "workers",
    "conns",
    "req/s",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "hits",
    "errors",
]
MEMORY_HEADER = [
    "orders cached",
    "RSS before MiB",
    "RSS after MiB",
    "bytes/order",
    "JSON bytes",
    "ratio",
]


@attrs.define
class Results:
    machine: dict[str, str]
    settings: dict[str, object]
    load_before: str = ""
    load_after: str = ""
    servers: str = ""
    publish_seconds: float | None = None
    ingest: list[IngestRun] = attrs.Factory(list)
    baseline: list[IngestRun] = attrs.Factory(list)
    baseline_commit_share: list[float] = attrs.Factory(list)
    lookups: list[ScenarioResult] = attrs.Factory(list)
    sweep: list[SweepPoint] = attrs.Factory(list)
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
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def machine_lines(results: Results) -> list[str]:
    m = results.machine
    return [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM; {m['os']}; "
        f"Python {m['python']}, PostgreSQL {m['postgresql']}, Kafka {m['kafka']} "
        f"(librdkafka {m['librdkafka']}), wrk {m['wrk']}. Code: {m.get('code', 'unknown')}.",
        f"Servers: {results.servers}. Load average (1, 5, 15 min) before the run: "
        f"{results.load_before}; after: {results.load_after or 'n/a'}.",
    ]


def ingest_lines(results: Results) -> list[str]:
    if not results.ingest:
        return []
    runs = len(results.ingest)
    rows = []
    service_rate = median([r.rate for r in results.ingest])
    rows.append(
        [
            "service: OrderConsumer + SaveThenCache + PostgresOrderRepository "
            f"(batch {results.settings['batch_size']})",
            f"{results.ingest[0].orders:,}",
            f"{median([r.seconds for r in results.ingest]):.1f}",
            f"{service_rate:,.0f}",
            f"{median([r.first_batch_seconds for r in results.ingest]):.2f}",
        ]
    )
    if results.baseline:
        rows.append(
            [
                "naive baseline: poll 1 message, per-row INSERTs, 1 transaction, commit offset",
                f"{results.baseline[0].orders:,}",
                f"{median([r.seconds for r in results.baseline]):.1f}",
                f"{median([r.rate for r in results.baseline]):,.0f}",
                f"{median([r.first_batch_seconds for r in results.baseline]):.2f}",
            ]
        )
    lines = [
        f"### Ingest: Kafka -> PostgreSQL, end to end ({_runs(runs)})",
        "",
        *_table(["path", "orders", "seconds", "orders/s", "join s"], rows),
        "",
        "Messages are published before the clock starts; the clock runs from the consumer's "
        "start (group join included, shown as *join s*) to the commit of the last order's "
        "transaction. Fresh database and consumer group per run.",
    ]
    if results.baseline:
        ratio = service_rate / median([r.rate for r in results.baseline])
        share = median(results.baseline_commit_share)
        lines += [
            f"The baseline runs on the first {results.baseline[0].orders:,} messages only "
            f"(its rate does not depend on the count). Ratio: **{ratio:.1f}x**. "
            f"{share:.0%} of the baseline's time is its synchronous offset commit per message.",
        ]
    return lines


def lookup_lines(results: Results) -> list[str]:
    if not results.lookups:
        return []
    runs = len(results.lookups[0].runs)
    seconds = results.settings["wrk_seconds"]
    rows = []
    for r in results.lookups:
        lat = {q: median([w.latency_ms[q] for w in r.runs]) for q in ("p50", "p99", "p99.9")}
        errors = sum(w.errors for w in r.runs)
        rows.append(
            [
                r.scenario,
                str(r.workers),
                str(r.connections),
                f"{median([w.rate for w in r.runs]):,.0f}",
                _ms(lat["p50"]),
                _ms(lat["p99"]),
                _ms(lat["p99.9"]),
                "-" if r.hit_ratio is None else f"{r.hit_ratio:.1%}",
                str(errors),
            ]
        )
    lines = [
        f"### Lookup: GET /order?id=..., closed loop (wrk -t1, {seconds:g} s, {_runs(runs)})",
        "",
        *_table(
            LOOKUP_HEADER,
            rows,
        ),
        "",
        f"{results.settings['lookup_ids']:,} distinct ids round-robin. *hits* is the service's "
        "own cache hit ratio (from /metrics, one-worker runs only). wrk and the service share "
        "the machine's cores.",
    ]
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
        lines += [
            "",
            f"### Lookup at a fixed rate (1 worker, {results.settings['sweep_connections']} "
            "connections, paced by the Lua script)",
            "",
            *_table(
                ["scenario", "of max", "target/s", "req/s", "p50 ms", "p99 ms", "p99.9 ms"], rows
            ),
            "",
            "*of max*: share of the scenario's highest closed-loop rate above. wrk has no fixed "
            "rate mode and Debian has no wrk2, so `bench/lookup.lua` paces requests with wrk's "
            "`delay()` on a schedule; latency is timed from each request's send (no "
            "coordinated-omission correction), which is faithful while the load is under the "
            f"maximum. Each point: {_runs(runs)}.",
        ]
    return lines


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
            MEMORY_HEADER,
            [row],
        ),
        "",
        "RSS (VmRSS) of the `order-service http` process after a warm-up of that many orders "
        "through `POST /admin/cache/warm`, against the same process with an empty cache.",
    ]


def targets(results: Results) -> list[tuple[bool, str]]:
    """(passed, one line) for each target that this run measured."""
    found: list[tuple[bool, str]] = []
    if results.ingest and results.baseline:
        service = median([r.rate for r in results.ingest])
        ratio = service / median([r.rate for r in results.baseline])
        gap = ratio / INGEST_TARGET
        found.append(
            (
                ratio >= INGEST_TARGET,
                f"ingest at least {INGEST_TARGET:.0f}x the naive baseline: {ratio:.1f}x "
                f"({gap:.2f} times the target)",
            )
        )
    for point in results.sweep:
        if abs(point.fraction - TARGET_FRACTION) > 1e-9 or "hit" not in point.scenario:
            continue
        p99 = median([w.latency_ms["p99"] for w in point.runs])
        rate = median([w.rate for w in point.runs])
        gap = P99_TARGET_MS - p99
        found.append(
            (
                p99 < P99_TARGET_MS,
                f"{point.scenario}: p99 under {P99_TARGET_MS:.0f} ms at half the maximum rate "
                f"({rate:,.0f} req/s): {p99:.2f} ms ({abs(gap):.2f} ms "
                f"{'under' if gap > 0 else 'over'})",
            )
        )
    if results.memory:
        ratio = median([r.ratio for r in results.memory])
        gap = MEMORY_TARGET - ratio
        found.append(
            (
                ratio <= MEMORY_TARGET,
                f"memory per cached order within {MEMORY_TARGET:.0f}x its JSON: {ratio:.2f}x "
                f"({abs(gap):.2f}x {'under' if gap >= 0 else 'over'})",
            )
        )
    return found


def target_lines(results: Results) -> list[str]:
    found = targets(results)
    if not found:
        return []
    return [
        "### Targets",
        "",
        *(f"- **{'PASS' if ok else 'MISS'}** {text}" for ok, text in found),
    ]


def report(results: Results) -> str:
    sections = [
        machine_lines(results),
        ingest_lines(results),
        lookup_lines(results),
        memory_lines(results),
        target_lines(results),
    ]
    return "\n\n".join("\n".join(s) for s in sections if s) + "\n"


def plot(results: Results, path: Path) -> None:
    """Latency percentiles against the achieved request rate, one panel per scenario."""
    names = list(dict.fromkeys(p.scenario for p in results.sweep))
    if not names:
        return
    fig = Figure(figsize=(5 * len(names), 4.2))
    FigureCanvasAgg(fig)  # render with Agg: no display, no pyplot state
    axes = fig.subplots(1, len(names), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
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
