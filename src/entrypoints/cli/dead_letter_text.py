"""Dead letters as terminal text, for ``order-service dlq list`` and ``dlq show``.

A dead letter holds whatever someone sent: every piece of it is printed with control and
format characters escaped, so a message cannot move the cursor, recolour or rewrite the
operator's terminal (ANSI escapes) or reorder what is shown (bidirectional overrides).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence

from order_core import DeadLetter, utc_time

REASON_WIDTH = 100


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with control and format characters written as escapes (``\\x1b``)."""
    kept = "\n\t" if keep_newlines else ""
    return "".join(
        ch
        if ch in kept or unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp")
        else ch.encode("unicode_escape").decode()
        for ch in text
    )


def when(ms: int | None, *, precise: bool = False) -> str:
    if ms is None:
        return "-"
    moment = utc_time(ms)
    if moment is None:
        return f"{ms} ms (not a date)"
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{ms % 1000:03d} UTC" if precise else text


def one_line(text: str, width: int = REASON_WIDTH) -> str:
    flat = printable(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def marks(letter: DeadLetter) -> str:
    found = ["[stub]"] if letter.stub else []
    if letter.replay_of is not None:
        found.append(f"[replay of {letter.replay_of}]")
    return " ".join(found) + " " if found else ""


def listing(letters: Sequence[DeadLetter]) -> str:
    """One line per dead letter: partition:offset (what ``show`` and ``replay`` take), when,
    source, reason (cut to one line)."""
    titles = ("partition:offset", "dead-lettered (UTC)", "source")
    cells = [(str(d.id), when(d.timestamp_ms), printable(d.source)) for d in letters]
    widths = [max([len(title), *(len(c[i]) for c in cells)]) for i, title in enumerate(titles)]
    lines = ["  ".join(t.ljust(w) for t, w in zip(titles, widths, strict=True)) + "  reason"]
    for (name, at, source), letter in zip(cells, letters, strict=True):
        row = [name.rjust(widths[0]), at.ljust(widths[1]), source.ljust(widths[2])]
        lines.append("  ".join(row) + "  " + marks(letter) + one_line(letter.reason))
    return "\n".join(lines)


def value_text(value: bytes) -> str:
    """The original value: pretty JSON when it is JSON, else its text, else its bytes."""
    try:
        text = value.decode()
    except UnicodeDecodeError:
        return f"{len(value):,} bytes, not UTF-8:\n" + printable(repr(value)[2:-1])
    try:
        pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):  # not JSON, or too deep to pretty-print
        return f"{len(value):,} bytes, not JSON:\n" + printable(text, keep_newlines=True)
    return f"{len(value):,} bytes, JSON:\n" + printable(pretty, keep_newlines=True)


def details(letter: DeadLetter, topic: str) -> str:
    """Everything a dead letter says, and its original value (or why it has none)."""
    lines = [
        f"dead letter {letter.id} of {topic}",
        f"  dead-lettered  {when(letter.timestamp_ms, precise=True)}",
        f"  source         {printable(letter.source)}{_written(letter.source_timestamp_ms)}",
        f"  reason         {printable(letter.reason, keep_newlines=True)}",
        f"  sha256         {printable(letter.sha256 or '-')}",
        f"  key            {_bytes(letter.key)}",
    ]
    lines += [f"  header         {printable(n)}={_bytes(v)}" for n, v in letter.headers]
    if letter.replay_of is not None:
        lines.append(f"  replay of      dead letter {letter.replay_of} (it failed again)")
    if letter.stub:
        size = letter.original_bytes
        shown = "its size unknown" if size is None else f"{size:,} bytes"
        lines += [
            f"  STUB           the original ({shown}) was too large for the dead-letter",
            "                 topic and is not kept here: it cannot be shown or replayed",
            f"                 from here; it was {printable(letter.source)}, which keeps it",
            "                 as long as that topic's retention does.",
        ]
    else:
        lines += ["  value          " + value_text(letter.value)]
    return "\n".join(lines)


def _written(ms: int | None) -> str:
    return "" if ms is None else f" (written {when(ms, precise=True)})"


def _bytes(value: bytes | None) -> str:
    if value is None:
        return "-"
    try:
        return printable(value.decode())
    except UnicodeDecodeError:
        return printable(repr(value))
