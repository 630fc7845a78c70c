"""A consumer group's lag as the brokers see it, whether or not any consumer runs.

For every partition of the topic: the group's committed offset, the partition's log start
and end (low and high watermarks), the messages the group has not consumed and the age of
the oldest of them. The reader is a Consumer with the group's id used only to look offsets
up and to fetch the one record at each committed offset (``assign``): it never subscribes,
so it never joins the group, and it never commits.

A reading is whole or unknown (``LagUnknown``): every call has the reading's deadline, and a
broker that does not answer in time, a topic that does not exist or a record that cannot be
fetched make the whole reading unknown, never a mix of old and new figures.
``GroupLagPoller`` reads in a daemon thread every N seconds and hands each reading, known
or not, to the telemetry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import attrs
from confluent_kafka import (
    OFFSET_INVALID,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

log = logging.getLogger(__name__)
# The poller logs each change between known and unknown with the reason; librdkafka's own
# lines (a connection refused every second while the broker is away) would only repeat it.
_QUIET = logging.getLogger("librdkafka.group-lag")
_QUIET.setLevel(logging.CRITICAL + 1)


# -- the figures (pure) ------------------------------------------------------------------------


@attrs.frozen
class PartitionOffsets:
    """What the brokers say of one partition: the group's commit and the log's bounds."""

    partition: int
    committed: int | None  # the next offset the group reads; None: it committed nothing here
    low: int  # the first offset the log still keeps
    high: int  # the end of the log: the offset the next message will get

    @property
    def first_unconsumed(self) -> int:
        """Where the group resumes: its commit, or the log start when it committed nothing
        (or committed below what retention kept: those messages are gone)."""
        return self.low if self.committed is None else max(self.committed, self.low)

    @property
    def messages(self) -> int:
        """Messages kept that the group has not consumed (0 when it committed the end, or
        past it: a log truncated under its commit has nothing left for it)."""
        return max(0, self.high - self.first_unconsumed)


def lag_seconds(messages: int, oldest_timestamp: float | None, now: float) -> float:
    """The age of the oldest message not consumed: 0 when there is none; never negative (a
    producer's clock ahead of ours)."""
    if messages == 0:
        return 0.0
    if oldest_timestamp is None:
        raise ValueError("messages wait, so their oldest has a timestamp")
    return max(0.0, now - oldest_timestamp)


@attrs.frozen
class PartitionLag:
    """One partition's lag: messages not consumed, and the age of the oldest, in seconds."""

    partition: int
    messages: int
    seconds: float
    committed: int | None
    high: int

    @classmethod
    def of(
        cls, offsets: PartitionOffsets, oldest_timestamp: float | None, now: float
    ) -> PartitionLag:
        messages = offsets.messages
        return cls(
            offsets.partition,
            messages,
            lag_seconds(messages, oldest_timestamp, now),
            offsets.committed,
            offsets.high,
        )


@attrs.frozen
class GroupLag:
    """One reading of a group's lag on a topic: every partition, or None when unknown."""

    group: str
    topic: str
    partitions: tuple[PartitionLag, ...] | None
    reason: str = ""  # why it is unknown

    @property
    def known(self) -> bool:
        return self.partitions is not None


# -- reading it from the brokers ---------------------------------------------------------------


class LagUnknown(RuntimeError):
    """The lag could not be read whole within the deadline; the message says why."""


@attrs.frozen
class LagSource:
    """Which group's lag on which topic, and how to reach the brokers."""

    bootstrap_servers: str
    group: str
    topic: str
    client_config: Mapping[str, str] = attrs.field(factory=dict)


class LagReader(Protocol):
    """Reads a group's lag: ``read`` raises LagUnknown when it cannot within its deadline."""

    def read(self) -> tuple[PartitionLag, ...]: ...

    def close(self) -> None: ...


class GroupLagReader:
    """Reads the lag of a group from the brokers, each reading within ``timeout`` seconds.

    Not thread-safe: one thread reads (a Consumer is not shared between threads).
    """

    def __init__(self, source: LagSource, timeout: float = 5.0) -> None:
        self.source = source
        self.timeout = timeout
        self._consumer = Consumer(
            {
                "bootstrap.servers": source.bootstrap_servers,
                **source.client_config,
                "group.id": source.group,  # only to look its commits up: never subscribed
                "client.id": "order-service-group-lag",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",  # a commit retention went past: its start
                # One record per partition is wanted: fetch and queue little, and do not
                # back off a second once that little is queued (measured: 1-3 s a reading).
                "max.partition.fetch.bytes": 65536,
                "queued.min.messages": 1,
                "queued.max.messages.kbytes": 1024,
                "fetch.wait.max.ms": 100,
                "fetch.queue.backoff.ms": 10,
                "logger": _QUIET,
            }
        )

    def read(self) -> tuple[PartitionLag, ...]:
        """Every partition's lag, by partition. Raises LagUnknown."""
        deadline = time.monotonic() + self.timeout
        try:
            offsets = self._offsets(deadline)
            waiting = {o.partition: o.first_unconsumed for o in offsets if o.messages}
            oldest = self._timestamps(waiting, deadline)
        except KafkaException as exc:
            raise LagUnknown(_reason(exc)) from None
        now = time.time()
        return tuple(PartitionLag.of(o, oldest.get(o.partition), now) for o in offsets)

    def _offsets(self, deadline: float) -> list[PartitionOffsets]:
        topic = self.source.topic
        described = self._consumer.list_topics(topic, timeout=_left(deadline)).topics.get(topic)
        if described is None or described.error is not None:
            raise LagUnknown(f"topic {topic}: {described.error if described else 'not found'}")
        partitions = sorted(described.partitions)
        if not partitions:
            raise LagUnknown(f"topic {topic} has no partitions")
        commits = self._consumer.committed(
            [TopicPartition(topic, p) for p in partitions], timeout=_left(deadline)
        )
        committed: dict[int, int | None] = {}
        for tp in commits:
            if tp.error is not None:
                raise LagUnknown(f"committed offset of {topic}/{tp.partition}: {tp.error}")
            committed[tp.partition] = None if tp.offset == OFFSET_INVALID else tp.offset
        found = []
        for p in partitions:
            marks = self._consumer.get_watermark_offsets(
                TopicPartition(topic, p), timeout=_left(deadline), cached=False
            )
            if marks is None:
                raise LagUnknown(f"the end offsets of {topic}/{p}: timed out")
            low, high = marks
            found.append(PartitionOffsets(p, committed[p], low, high))
        return found

    def _timestamps(self, first: Mapping[int, int], deadline: float) -> dict[int, float]:
        """The timestamp (Unix seconds) of the record at ``first[p]`` (or the first after it
        that is there) of each partition."""
        if not first:
            return {}
        topic = self.source.topic
        self._consumer.assign([TopicPartition(topic, p, offset) for p, offset in first.items()])
        found: dict[int, float] = {}
        error: KafkaError | None = None  # the last the fetch met, to say why it failed
        try:
            while len(found) < len(first):
                left = deadline - time.monotonic()
                if left <= 0:
                    why = f": {error.str()}" if error is not None else ""
                    raise LagUnknown(f"the oldest records were not fetched in time{why}")
                for message in self._consumer.consume(len(first), timeout=min(left, 0.5)):
                    partition = message.partition()
                    if message.error() is not None:
                        error = message.error()
                        continue
                    if partition is None or partition in found:
                        continue
                    offset = message.offset()
                    if partition not in first or offset is None or offset < first[partition]:
                        continue  # queued for an earlier reading
                    kind, milliseconds = message.timestamp()
                    if kind == TIMESTAMP_NOT_AVAILABLE:
                        raise LagUnknown(f"{topic}/{partition}@{offset} has no timestamp")
                    found[partition] = milliseconds / 1000
        finally:
            self._consumer.unassign()
        return found

    def close(self) -> None:
        self._consumer.close()  # never subscribed: nothing to leave, nothing to commit


def _left(deadline: float) -> float:
    """The time left to the reading's deadline; LagUnknown once it passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise LagUnknown("the brokers did not answer in time")
    return left


def _reason(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else exc
    return str(error.str()) if hasattr(error, "str") else str(error)


# -- reading it in the background --------------------------------------------------------------


class GroupLagPoller:
    """Reads a group's lag every ``every`` seconds in a daemon thread, the first at once, and
    hands each reading to ``report`` (unknown ones too: the figures must go, not stay).

    The reader is made and closed in the thread. ``stop`` waits for it at most its timeout:
    a reading in hand ends by its own deadline.
    """

    def __init__(
        self,
        source: LagSource,
        every: float,
        report: Callable[[GroupLag], None],
        *,
        timeout: float = 5.0,
        reader: Callable[[LagSource, float], LagReader] = GroupLagReader,
    ) -> None:
        self.source = source
        self.every = every
        self.timeout = timeout
        self._report = report
        self._new_reader = reader
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: GroupLag | None = None  # the latest reading

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="group-lag", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop; True once the thread has ended (within ``timeout``, default: the reading's
        own timeout and a second to close)."""
        self._stopping.set()
        if self._thread is None:
            return True
        self._thread.join(self.timeout + 1.0 if timeout is None else timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        reader: LagReader | None = None
        try:
            while not self._stopping.is_set():
                started = time.monotonic()
                try:
                    if reader is None:
                        reader = self._new_reader(self.source, self.timeout)
                    reading = self._known(reader.read())
                except LagUnknown as exc:
                    reading = self._unknown(str(exc))
                except Exception as exc:  # a bug, or a bad client setting: say so once, go on
                    if self.last is None or self.last.known:
                        log.exception("reading the lag of group %s failed", self.source.group)
                    reading = self._unknown(f"{type(exc).__name__}: {exc}")
                self._publish(reading)
                self._stopping.wait(max(0.0, self.every - (time.monotonic() - started)))
        finally:
            if reader is not None:
                reader.close()

    def _known(self, partitions: tuple[PartitionLag, ...]) -> GroupLag:
        return GroupLag(self.source.group, self.source.topic, partitions)

    def _unknown(self, reason: str) -> GroupLag:
        return GroupLag(self.source.group, self.source.topic, None, reason)

    def _publish(self, reading: GroupLag) -> None:
        was = self.last
        if not reading.known and (was is None or was.known):
            log.warning(
                "lag of group %s on %s unknown: %s", reading.group, reading.topic, reading.reason
            )
        elif reading.known and was is not None and not was.known:
            log.info("lag of group %s on %s read again", reading.group, reading.topic)
        self.last = reading
        self._report(reading)
