"""What the tool prints: ``[services]`` log lines and warnings, the tails of logs, and ``Fail``.

Errors are raised as ``Fail``: the CLI prints the tails of the logs it names, then one
``[services] ERROR: ...`` line, and exits 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PREFIX = "[services]"


class Fail(Exception):
    """A one-line error; the tails of ``logs`` are shown before it."""

    def __init__(self, message: str, *logs: Path) -> None:
        super().__init__(message)
        self.logs = logs


def log(message: str) -> None:
    print(f"{PREFIX} {message}", flush=True)


def warn(message: str) -> None:
    print(f"{PREFIX} WARNING: {message}", file=sys.stderr, flush=True)


def show_tail(path: Path, lines: int = 60) -> None:
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 256 * 1024))
            tail = f.read().decode(errors="replace").splitlines()[-lines:]
    except OSError:
        tail = []
    if not tail:
        print(f"{PREFIX} (log {path} is missing or empty)", file=sys.stderr)
        return
    print(f"{PREFIX} ----- last {lines} lines of {path} -----", file=sys.stderr)
    print("\n".join(tail), file=sys.stderr)
    print(f"{PREFIX} ----- end of {path} -----", file=sys.stderr, flush=True)
