"""Dead letters as the core sees them: a message set aside, why, where it came from.

Where they are kept and how they are written is the adapter's business (the Kafka
dead-letter topic and its header format, ``adapters.kafka.dead_letters.format``); the
operator's tools (the CLI, the admin view) read them through ``DeadLetterArchive``
(``order_core.ports``) and see only this record.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import attrs

Headers = tuple[tuple[str, bytes], ...]


class DeadLettersUnavailable(RuntimeError):
    """The dead letters cannot be read now (the broker is down, access refused)."""


@attrs.frozen
class DeadLetter:
    offset: int  # its position among the dead letters
    timestamp_ms: int | None  # when it was dead-lettered
    reason: str
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    source_timestamp_ms: int | None
    sha256: str | None
    stub: bool  # the original was too large to keep: only its description is
    replay_of: int | None  # the dead letter this message was a replay of
    key: bytes | None
    value: bytes
    headers: Headers  # the original's own headers
    format_version: int = 1  # of the record it was read from

    @property
    def source(self) -> str:
        """``topic/partition@offset``, with ``?`` for what the record does not say."""
        part = "?" if self.source_partition is None else self.source_partition
        offset = "?" if self.source_offset is None else self.source_offset
        return f"{self.source_topic or '?'}/{part}@{offset}"

    @property
    def original_bytes(self) -> int | None:
        """The size of the original value; for a stub, as the stub reports it."""
        if not self.stub:
            return len(self.value)
        try:
            size = json.loads(self.value).get("original_bytes")
        except (ValueError, AttributeError):
            return None
        return size if isinstance(size, int) else None


def utc_time(ms: int | None) -> datetime | None:
    """A timestamp (milliseconds since the epoch) as a time, None when there is none or it
    is outside what a datetime holds (a producer may write any 64-bit value)."""
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def stub_refusal(letter: DeadLetter) -> str:
    """Why a stub cannot be replayed, said for an operator."""
    size = letter.original_bytes
    shown = "" if size is None else f" ({size:,} bytes)"
    return (
        f"dead letter {letter.offset} is a stub: the original{shown} was too large for the "
        f"dead-letter topic and is not kept there, so it cannot be replayed from it (it was "
        f"{letter.source}, which keeps it as long as that topic's retention does)"
    )
