"""An in-memory ``DeadLetterArchive`` (order_core.ports) of one or more partitions: stands in
for the Kafka reader in the HTTP and CLI tests, or for a Kafka that is down."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType

import attrs

from adapters.kafka.client.records import Record
from adapters.kafka.dead_letters.format import parse
from order_core import (
    DeadLetter,
    DeadLetterArchive,
    DeadLettersUnavailable,
    latest_by_time,
    merged_by_time,
)
from order_core.dead_letters import NO_TIME


def letter(partition: int, offset: int, timestamp_ms: int | None, record: Record) -> DeadLetter:
    """The dead letter ``record`` reads as at ``partition:offset`` of the dead-letter topic."""
    return parse(offset, timestamp_ms, *attrs.astuple(record), partition=partition)


class MemoryArchive:
    """Dead letters by partition (each in offset order, from 0); every read is recorded as
    ``(partition, start, end)`` in ``reads``."""

    def __init__(
        self,
        letters: Iterable[DeadLetter] = (),
        *,
        partitions: int = 1,
        name: str = "orders.dlq",
        down: bool = False,
    ) -> None:
        self.name = name
        self.down = down
        self.by_partition: dict[int, list[DeadLetter]] = {p: [] for p in range(partitions)}
        for one in letters:
            self.by_partition[one.partition].append(one)
        self.reads: list[tuple[int, int, int]] = []
        self.closed = False

    def __enter__(self) -> MemoryArchive:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True

    def _check(self) -> None:
        if self.down:
            raise DeadLettersUnavailable(f"cannot read {self.name}: all brokers down")

    def partitions(self) -> tuple[int, ...]:
        self._check()
        return tuple(sorted(self.by_partition))

    def bounds(self, partition: int) -> tuple[int, int]:
        self._check()
        kept = self.by_partition.get(partition, [])
        return (kept[0].offset, kept[-1].offset + 1) if kept else (0, 0)

    def read(self, partition: int, start: int, end: int) -> Iterator[DeadLetter]:
        self._check()
        self.reads.append((partition, start, end))
        kept = self.by_partition.get(partition, [])
        return iter([one for one in kept if start <= one.offset < end])

    def read_merged(self, ranges: Mapping[int, tuple[int, int]]) -> Iterator[DeadLetter]:
        return merged_by_time(self.read(p, start, end) for p, (start, end) in ranges.items())

    def latest(self, limit: int) -> list[DeadLetter]:
        ranges = {}
        for partition in self.partitions():
            low, high = self.bounds(partition)
            ranges[partition] = (max(low, high - limit), high)
        return latest_by_time([self.read(p, *r) for p, r in ranges.items()], limit)

    def at(self, partition: int, offset: int) -> DeadLetter | None:
        return next(self.read(partition, offset, offset + 1), None)

    def since(self, timestamp_ms: int) -> Iterator[DeadLetter]:
        # As Kafka finds it: from the first record at or after the time, to the end.
        ranges = {}
        for partition in self.partitions():
            kept = self.by_partition[partition]
            times = [NO_TIME if one.timestamp_ms is None else one.timestamp_ms for one in kept]
            first = next(
                (o.offset for o, t in zip(kept, times, strict=True) if t >= timestamp_ms), None
            )
            if first is not None:
                ranges[partition] = (first, self.bounds(partition)[1])
        return self.read_merged(ranges)


def _conforms(archive: MemoryArchive) -> DeadLetterArchive:
    return archive  # mypy checks that the fake keeps the port's contract
