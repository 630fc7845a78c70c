"""The median, the figure every table of the benchmarks shows for repeated runs."""

from __future__ import annotations

from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
