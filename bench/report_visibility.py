"""The visibility section of the results: the time from a publish's acknowledgement to the
first 200 from GET, as percentiles over the orders, with the consumer's batches meanwhile.
"""

from __future__ import annotations

from bench.markdown import format_ms, runs_label, table
from bench.median import median
from bench.results import Results


def visibility_ms(results: Results, quantile: str) -> float:
    return median([v.latency_ms[quantile] for v in results.visibility])


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
