"""The results as markdown, and where a full run's results go in docs/.

The machine and the servers first, then the targets as PASS/MISS (``bench.results``), then
each phase's section: ingest (the service's rate against the raw COPY ceiling at each batch
size and against the naive baseline), lookup (the closed-loop table of every scenario and
reference app, the comparison with the bare ASGI ceiling and with granian, and the table of
the paced sweep), visibility (the time from a publish's acknowledgement to the first 200
from GET, as percentiles over the orders, with the consumer's batches meanwhile), consumer
scaling (the rate of 1, 2 and 3 consumer processes in one group, with the CPU time per
order of the consumers, PostgreSQL and the Kafka broker and the bytes stored and written to
the WAL per order) and memory (the resident memory of the HTTP process before and after a
warm-up of the memory cache, per cached order against the size of its JSON). The tables
have their columns aligned (the first to the left, the figures to the right).

A full run writes the tables between the markers of docs/benchmarks.md and the scaling
section between those of docs/scaling.md (a file without its markers is left as it is);
the plot, docs/latency.png, is ``bench.latency_plot``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from statistics import median

from bench.environment import ROOT, say
from bench.lookup import BARE_ASGI, MEMORY_HIT, MINIMAL_STARLETTE, ON_GRANIAN
from bench.results import (
    OTHER_SERVER_FACTOR,
    TARGET_CONNECTIONS,
    Results,
    ceiling_rates,
    closed_loop_result,
    median_rate,
    service_rate,
    target_lines,
    visibility_ms,
)
from bench.scaling import PARTITIONS as SCALING_PARTITIONS
from bench.scaling import ScalingRun

DOCS = ROOT / "docs" / "benchmarks.md"
SCALING_DOCS = ROOT / "docs" / "scaling.md"
PLOT = ROOT / "docs" / "latency.png"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"
SCALING_START, SCALING_END = "<!-- bench:scaling:start -->", "<!-- bench:scaling:end -->"


def write_block(path: Path, start: str, end: str, text: str) -> None:
    """Replace what is between the markers ``start`` and ``end`` in ``path``."""
    current = path.read_text() if path.exists() else ""
    if start not in current or end not in current:
        say(f"bench: {path} has no {start} ... {end} markers; not updated")
        return
    head, rest = current.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{text}{end}{tail}")
    say(f"bench: updated {path.relative_to(ROOT)}")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
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


def runs_label(count: int) -> str:
    return "1 run" if count == 1 else f"median of {count} runs"


def format_ms(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def format_share(value: float) -> str:
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
        return [format_share(rate / c) if rate else "-" for c in ceilings.values()]

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
        f"### Ingest: Kafka -> PostgreSQL ({runs_label(count)})",
        "",
        *table(header, rows),
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


def visibility_lines(results: Results) -> list[str]:
    if not results.visibility:
        return []
    v = results.visibility
    row = [
        f"{median([r.published for r in v]):,.0f}",
        f"{median([r.rate for r in v]):,.0f}",
        *(format_ms(visibility_ms(results, q)) for q in ("p50", "p90", "p99", "max")),
        f"{median([r.gets for r in v]):,.0f}",
        f"{median([r.mean_batch or 0 for r in v]):,.0f}",
        f"{median([r.mean_save_ms or 0 for r in v]):,.0f}",
    ]
    return [
        f"### Visibility: publish acknowledged -> first 200 from GET ({runs_label(len(v))})",
        "",
        *table(
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
        "### Consumer scaling: `order-service consume` processes in one group "
        f"({runs_label(count)})",
        "",
        *table(
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
        f"### Memory: the memory cache ({runs_label(len(m))})",
        "",
        *table(
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
