"""Dead letters as the core sees them: a message set aside, why, where it came from.

Where they are kept and how they are written is the adapter's business (the Kafka
dead-letter topic and its header format, ``adapters.kafka.dead_letters.format``); the
operator's tools (the CLI, the admin view) read them through ``DeadLetterArchive``
(``order_core.ports``) and see only this record.

A dead letter is named by where it is kept: its partition and its offset there
(``DeadLetterId``, written ``PARTITION:OFFSET``). Offsets number the dead letters of one
partition in order; across partitions they are merged by time (``merged_by_time``).
"""

from __future__ import annotations

import heapq
import json
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import attrs

Headers = tuple[tuple[str, bytes], ...]


class DeadLettersUnavailable(RuntimeError):
    """The dead letters cannot be read now (the broker is down, access refused)."""


@attrs.frozen(order=True)
class DeadLetterId:
    """Which dead letter: its partition of the dead-letter topic and its offset there."""

    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.partition}:{self.offset}"


@attrs.frozen
class DeadLetter:
    partition: int  # the partition of the dead-letter topic it is kept in
    offset: int  # its position among the dead letters of that partition
    timestamp_ms: int | None  # when it was dead-lettered
    reason: str
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    source_timestamp_ms: int | None
    sha256: str | None
    stub: bool  # the original was too large to keep: only its description is
    replay_of: DeadLetterId | None  # the dead letter this message was a replay of
    key: bytes | None
    value: bytes
    headers: Headers  # the original's own headers
    format_version: int = 1  # of the record it was read from

    @property
    def id(self) -> DeadLetterId:
        return DeadLetterId(self.partition, self.offset)

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
        f"dead letter {letter.id} is a stub: the original{shown} was too large for the "
        f"dead-letter topic and is not kept there, so it cannot be replayed from it (it was "
        f"{letter.source}, which keeps it as long as that topic's retention does)"
    )


NO_TIME = -(2**63) - 1  # below any timestamp a record can carry: those without one go first


def by_time(letter: DeadLetter) -> tuple[int, int, int]:
    """The order of dead letters across partitions: by time, then partition, then offset."""
    time = NO_TIME if letter.timestamp_ms is None else letter.timestamp_ms
    return time, letter.partition, letter.offset


def merged_by_time(partitions: Iterable[Iterable[DeadLetter]]) -> Iterator[DeadLetter]:
    """The dead letters of several partitions, each given in offset order, as one stream in
    ``by_time`` order; lazily, holding one dead letter per partition.

    A partition's own order is kept whatever its timestamps (a producer's clock may step
    back): a dead letter is never put before an earlier one of its partition.
    """
    return heapq.merge(*partitions, key=by_time)


def latest_by_time(partitions: Iterable[Iterable[DeadLetter]], limit: int) -> list[DeadLetter]:
    """The last ``limit`` dead letters of ``merged_by_time(partitions)``, oldest first,
    holding no more than ``limit`` plus one per partition."""
    if limit <= 0:
        return []
    return list(deque(merged_by_time(partitions), maxlen=limit))
