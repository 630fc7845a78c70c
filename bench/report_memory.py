"""The memory section of the results: the resident memory of the HTTP process before and
after a warm-up of the memory cache, per cached order against the size of its JSON.
"""

from __future__ import annotations

from bench.markdown import runs_label, table
from bench.median import median
from bench.results import Results


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
