"""The markdown of the results tables: a table with its columns aligned (the first to the
left, the figures to the right), and the few number formats every section shares (run
counts, milliseconds, shares).
"""

from __future__ import annotations

from collections.abc import Sequence


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
