"""A dead-letter record read back: why it was set aside, where it came from, the original.

The inverse of ``dead_letters.py``: the ``dlq.*`` headers become fields, the other
headers are the original's. ``replay_record`` turns an entry back into the message it
was, with a ``dlq.replay-of`` header naming its dead-letter offset; the consumer carries
that header into the new dead letter if the replay fails again, so a chain of attempts
can be followed from offset to offset.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import orjson

from adapters.kafka.dead_letters import REPLAY_OF
from adapters.kafka.records import Headers, Record

DLQ_PREFIX = "dlq."


class CannotReplayStub(ValueError):
    """A stub holds no original to replay: it was too large for the dead-letter topic."""


@attrs.frozen
class DeadLetter:
    offset: int  # in the dead-letter topic
    timestamp_ms: int | None  # when it was dead-lettered
    reason: str
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    source_timestamp_ms: int | None
    sha256: str | None
    stub: bool
    replay_of: int | None  # the dead-letter offset this message was a replay of
    key: bytes | None
    value: bytes
    headers: Headers  # the original's own headers

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
            size = orjson.loads(self.value).get("original_bytes")
        except (orjson.JSONDecodeError, AttributeError):
            return None
        return size if isinstance(size, int) else None


def utc_time(ms: int | None) -> datetime | None:
    """A Kafka timestamp (milliseconds since the epoch) as a time, None when there is none
    or it is outside what a datetime holds (a producer may write any 64-bit value)."""
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _int(value: bytes | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode(errors="replace")


def entry(
    offset: int, timestamp_ms: int | None, key: bytes | None, value: bytes, headers: Headers
) -> DeadLetter:
    """The dead letter a record of the dead-letter topic holds.

    The service's own ``dlq.*`` headers come first, so the first of each name is the one
    read; any ``dlq.*`` header of the original (a ``dlq.replay-of``) is not the original's.
    """
    dlq: dict[str, bytes] = {}
    for name, data in headers:
        if name.startswith(DLQ_PREFIX):
            dlq.setdefault(name, data)
    return DeadLetter(
        offset=offset,
        timestamp_ms=timestamp_ms,
        reason=_text(dlq.get("dlq.reason")) or "",
        source_topic=_text(dlq.get("dlq.topic")),
        source_partition=_int(dlq.get("dlq.partition")),
        source_offset=_int(dlq.get("dlq.offset")),
        source_timestamp_ms=_int(dlq.get("dlq.timestamp")),
        sha256=_text(dlq.get("dlq.sha256")),
        stub=dlq.get("dlq.stub") == b"true",
        replay_of=_int(dlq.get(REPLAY_OF)),
        key=key,
        value=value,
        headers=tuple((n, v) for n, v in headers if not n.startswith(DLQ_PREFIX)),
    )


def stub_refusal(letter: DeadLetter) -> str:
    """Why a stub cannot be replayed, said for an operator."""
    size = letter.original_bytes
    shown = "" if size is None else f" ({size:,} bytes)"
    return (
        f"dead letter {letter.offset} is a stub: the original{shown} was too large for the "
        f"dead-letter topic and is not kept there, so it cannot be replayed from it (it was "
        f"{letter.source}, which keeps it as long as that topic's retention does)"
    )


def replay_record(letter: DeadLetter) -> Record:
    """The original message again, marked as a replay of this dead letter."""
    if letter.stub:
        raise CannotReplayStub(stub_refusal(letter))
    return Record(letter.key, letter.value, (*letter.headers, (REPLAY_OF, b"%d" % letter.offset)))
