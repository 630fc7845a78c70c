"""Process-wide settings of a long-running service process."""

from __future__ import annotations

import gc

# Decoding a batch allocates tens of thousands of small objects that die together; with
# CPython's default threshold (700) the young generation is collected every few orders
# and each collection walks the batch still alive. Collecting less often measured 12.4 ->
# 10.5 us of CPU an order to prepare a batch; cycles are rare here, so memory stays flat.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_for_service() -> None:
    """Call once, after start-up: freeze what start-up allocated, collect less often."""
    gc.collect()
    gc.freeze()  # imports and settings: never garbage, never walked again
    gc.set_threshold(*GC_THRESHOLDS)
