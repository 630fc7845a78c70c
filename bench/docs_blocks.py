"""Where a full run's results go in docs/: between the markers of docs/benchmarks.md (the
tables) and of docs/scaling.md (the scaling section), and docs/latency.png (the plot); a
file without its markers is left as it is.
"""

from __future__ import annotations

from pathlib import Path

from bench.console import say
from bench.environment import ROOT

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
