"""The benchmarks' progress lines: written to stderr and flushed at once, so that they show
while a phase runs and stdout holds the results alone.
"""

from __future__ import annotations

import sys


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
