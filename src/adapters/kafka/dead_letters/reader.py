"""Reads the dead-letter topic by partition and offset: for operators' listings, ``show``
and replays.

The service creates the topic with one partition, but operations may give it more: every
partition is read, and what spans them is merged by time (``order_core.merged_by_time``).
A plain consumer is assigned to one partition at a time: it joins no group and commits
nothing, so reading never moves anyone's position and any number of readers can run at
once. A merge reads each partition a chunk (``_BATCH``) at a time, so it holds at most a
chunk per partition whatever their size.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from types import TracebackType

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from adapters.kafka.client.raw_headers import read_raw_headers
from adapters.kafka.dead_letters.format import parse
from order_core import DeadLetter, DeadLettersUnavailable, latest_by_time, merged_by_time

NO_TOPIC = frozenset({KafkaError._UNKNOWN_PARTITION, KafkaError.UNKNOWN_TOPIC_OR_PART})
_BATCH = 500


class DeadLetterReader:
    """A ``DeadLetterArchive`` (order_core.ports) over the dead-letter topic."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        client_config: Mapping[str, str] | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.topic = self.name = topic
        self._timeout = timeout
        self._partitions: tuple[int, ...] = ()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": "order-service-dead-letter-reader",  # required; never joined
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                # A fetch in flight at the end of the topic holds a new assignment back
                # this long: short, since every read starts with one.
                "fetch.wait.max.ms": 25,
                **(client_config or {}),
            }
        )

    def __enter__(self) -> DeadLetterReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._consumer.close()

    def partitions(self) -> tuple[int, ...]:
        """The topic's partitions, in order; () when it does not exist yet (nothing was ever
        dead-lettered). Asked once per reader: a topic's partitions are never removed."""
        if self._partitions:
            return self._partitions
        try:
            metadata = self._consumer.list_topics(self.topic, timeout=self._timeout)
        except KafkaException as exc:
            raise self._unavailable(exc.args[0]) from exc
        found = metadata.topics.get(self.topic)
        if found is not None and found.error is not None:
            if found.error.code() in NO_TOPIC:
                return ()
            raise self._unavailable(found.error)
        self._partitions = () if found is None else tuple(sorted(found.partitions))
        return self._partitions

    def bounds(self, partition: int) -> tuple[int, int]:
        """The partition's first offset still kept and the next offset to be written;
        (0, 0) when the topic or the partition does not exist."""
        try:
            low, high = self._consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), timeout=self._timeout
            )
        except KafkaException as exc:
            if exc.args[0].code() in NO_TOPIC:
                return 0, 0
            raise self._unavailable(exc.args[0]) from exc
        return int(low), int(high)

    def read(self, partition: int, start: int, end: int) -> Iterator[DeadLetter]:
        """The partition's dead letters at offsets ``start`` to ``end - 1`` still kept, in
        order."""
        low, high = self.bounds(partition)
        start, end = max(start, low), min(end, high)
        if start >= end:
            return
        self._consumer.assign([TopicPartition(self.topic, partition, start)])
        try:
            yield from self._fetch(partition, start, end)
        finally:
            self._consumer.unassign()

    def read_merged(self, ranges: Mapping[int, tuple[int, int]]) -> Iterator[DeadLetter]:
        """The dead letters in these ranges (partition -> ``(start, end)``), merged by time."""
        return merged_by_time(
            self._chunked(partition, start, end) for partition, (start, end) in ranges.items()
        )

    def latest(self, limit: int) -> list[DeadLetter]:
        """The last ``limit`` dead letters across the partitions, oldest first: at most the
        last ``limit`` of each are read, merged, and the newest ``limit`` kept."""
        ranges = {}
        for partition in self.partitions():
            low, high = self.bounds(partition)
            ranges[partition] = (max(low, high - limit), high)
        return latest_by_time(
            [self._chunked(partition, start, end) for partition, (start, end) in ranges.items()],
            limit,
        )

    def at(self, partition: int, offset: int) -> DeadLetter | None:
        if partition not in self.partitions():
            return None
        return next(self.read(partition, offset, offset + 1), None)

    def since(self, timestamp_ms: int) -> Iterator[DeadLetter]:
        """The dead letters written at or after ``timestamp_ms`` (Unix ms), merged by time;
        each partition up to its end when the reading starts."""
        partitions = self.partitions()
        if not partitions:
            return
        wanted = [TopicPartition(self.topic, p, timestamp_ms) for p in partitions]
        try:
            found = self._consumer.offsets_for_times(wanted, timeout=self._timeout)
        except KafkaException as exc:
            if exc.args[0].code() in NO_TOPIC:
                return
            raise self._unavailable(exc.args[0]) from exc
        ranges = {}
        for first in found:
            if first.error is not None:
                raise self._unavailable(first.error)
            if first.offset >= 0:  # -1: every record of the partition is older
                ranges[first.partition] = (first.offset, self.bounds(first.partition)[1])
        yield from self.read_merged(ranges)

    def _chunked(self, partition: int, start: int, end: int) -> Iterator[DeadLetter]:
        """``read``, a chunk at a time, each read whole before it is handed on: several of
        these can take turns on the one consumer (as a merge does)."""
        end = min(end, self.bounds(partition)[1])
        while start < end:
            chunk = list(self.read(partition, start, min(end, start + _BATCH)))
            yield from chunk
            # Past the chunk; past the whole span when it held none (offsets a compacted
            # or transactional topic skips).
            start = chunk[-1].offset + 1 if chunk else start + _BATCH

    def _unavailable(self, error: KafkaError) -> DeadLettersUnavailable:
        return DeadLettersUnavailable(f"cannot read {self.topic}: {error.str()}")

    def _fetch(self, partition: int, start: int, end: int) -> Iterator[DeadLetter]:
        deadline = time.monotonic() + self._timeout
        following = start
        while True:
            # consume() waits until it has them all (or the timeout): ask for no more than
            # are left, so that the last ones come at once.
            wanted = max(1, min(_BATCH, end - following))
            messages = self._consumer.consume(num_messages=wanted, timeout=0.5)
            if messages:
                deadline = time.monotonic() + self._timeout  # progress: wait afresh
            for message in messages:
                error = message.error()
                if error is not None and error.code() == KafkaError._PARTITION_EOF:
                    if message.partition() == partition:
                        return
                    continue
                if error is not None:
                    raise self._unavailable(error)
                letter = _letter(message)
                # Left over from an earlier assignment (another partition, or before it).
                if letter.partition != partition or letter.offset < start:
                    continue
                if letter.offset >= end:
                    return
                following = letter.offset + 1
                yield letter
                if following == end:
                    return
            if time.monotonic() > deadline:
                raise DeadLettersUnavailable(
                    f"cannot read {self.topic}: no answer within {self._timeout:.0f}s"
                )


def _letter(message: Message) -> DeadLetter:
    kind, timestamp = message.timestamp()
    headers = read_raw_headers(message)
    if headers.unread:
        # Without its dlq.* headers a stub would read as an original and be replayable:
        # refuse to read rather than guess.
        raise DeadLettersUnavailable(
            "cannot read dead-letter headers with this confluent-kafka version "
            "(unknown Message layout): no dead letter is shown or replayed"
        )
    return parse(
        partition=int(message.partition() or 0),
        offset=int(message.offset() or 0),
        timestamp_ms=timestamp if kind else None,
        key=message.key(),
        value=message.value() or b"",
        # As bytes, whatever names a writer gave them (never Message.headers()).
        headers=headers.pairs,
    )
