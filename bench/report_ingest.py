"""The ingest section of the results: the service's rate against the raw COPY ceiling at
each batch size and against the naive baseline, as a markdown table with its notes.
"""

from __future__ import annotations

from bench.markdown import format_share, runs_label, table
from bench.median import median
from bench.results import Results


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
