"""The order consumer: the poll loop that feeds batches to the core and commits what is done.

For every batch, in this order:
1. the core validates it, saves the valid orders (one transaction) and caches them;
2. the rejected messages go to the dead-letter topic and are acknowledged;
3. the offset ledger marks the batch done, and the commit point moves past it.

Every failure has one outcome. *Transient* (the database or the broker is unavailable):
nothing is committed; the batch's partitions are rewound to its first offset and paused,
and the loop keeps polling (so it stays in the group) while it backs off, then reads and
tries again. *Fatal* (the database refuses in a way waiting cannot mend, the broker
refuses our credentials or a dead letter for good): the loop commits what is done and
stops with ConsumerFailed, which the process reports (readiness, exit code).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence

import attrs
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from adapters.kafka.dead_letters import DeadLetterPublisher, Source
from adapters.kafka.offset_ledger import OffsetLedger, Span
from adapters.kafka.publisher import PublishFailed, PublishRefused
from adapters.kafka.records import CREDENTIALS_REFUSED
from order_core.errors import RepositoryFailed, RepositoryUnavailable
from order_core.ingest import IngestResult

log = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[bytes]], IngestResult]
TRANSIENT = (RepositoryUnavailable, PublishFailed)


class ConsumerFailed(RuntimeError):
    """The consumer stopped for good; the message says why."""


@attrs.frozen
class ConsumerSettings:
    bootstrap_servers: str
    topic: str
    group_id: str
    batch_size: int
    retry_max: float  # the backoff's cap, seconds
    retry_initial: float = 0.5
    poll_timeout: float = 0.5
    session_timeout_ms: int = 10_000
    max_poll_interval_ms: int = 300_000
    client_config: Mapping[str, str] = attrs.field(factory=dict)  # any librdkafka property


@attrs.define
class ConsumerState:
    """What the consumer is doing, for readiness, metrics and tests."""

    running: bool = False
    failure: str | None = None
    retrying_since: float | None = None  # monotonic time the current batch first failed
    last_commit_at: float | None = None  # Unix time of the last offset commit
    batches: int = 0
    messages: int = 0
    saved: int = 0
    already_stored: int = 0
    dead_lettered: int = 0
    retries: int = 0
    attempts: int = 0  # failed attempts at the current batch
    commits: int = 0

    def retrying_for(self) -> float:
        return 0.0 if self.retrying_since is None else time.monotonic() - self.retrying_since


def _key(tp: TopicPartition) -> tuple[str, int]:
    return tp.topic, tp.partition


class OrderConsumer:
    """Consumes the orders topic in a consumer group and drives the save-then-cache use case."""

    def __init__(
        self,
        settings: ConsumerSettings,
        handle_batch: BatchHandler,
        dead_letters: DeadLetterPublisher,
        stats_cb: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.state = ConsumerState()
        self.ledger = OffsetLedger()
        self._handle_batch = handle_batch
        self._dead_letters = dead_letters
        self._stop = threading.Event()
        self._waiting = False
        self._fatal: str | None = None
        config: dict[str, object] = {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": settings.group_id,
            # Offsets are committed by hand, after the database commit. With librdkafka's
            # defaults a message would count as done as soon as it was handed to us.
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": settings.session_timeout_ms,
            "max.poll.interval.ms": settings.max_poll_interval_ms,
            "fetch.wait.max.ms": 100,
            "error_cb": self._on_error,
        }
        if stats_cb is not None:
            config.update({"statistics.interval.ms": 5000, "stats_cb": stats_cb})
        config.update(settings.client_config)
        self._consumer = Consumer(config)

    # -- life cycle ---------------------------------------------------------------------

    def run(self) -> None:
        """Consume until ``stop()``; then commit what is done and leave the group.

        Raises ConsumerFailed when it had to stop on an error no retry can mend.
        """
        self._consumer.subscribe(
            [self.settings.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self.state.running = True
        log.info("consuming %s as group %s", self.settings.topic, self.settings.group_id)
        try:
            while not self._stop.is_set():
                self._check_fatal()
                self._commit()
                messages = self._consumer.consume(
                    num_messages=self.settings.batch_size, timeout=self.settings.poll_timeout
                )
                batch, spans = self._take(messages)
                try:
                    self._process(batch, spans)
                except TRANSIENT as exc:
                    self._retry_later(exc)
        except (RepositoryFailed, PublishRefused, ConsumerFailed) as exc:
            self.state.failure = str(exc)
            log.error("consumer stopped: %s", exc)
            raise ConsumerFailed(str(exc)) from exc
        finally:
            self.state.running = False
            self._commit()
            self._consumer.close()  # leaves the group at once, no session timeout wait
            log.info("consumer closed")

    def stop(self) -> None:
        """Ask the loop to stop after the batch in hand (safe from signal handlers)."""
        self._stop.set()

    # -- one batch ------------------------------------------------------------------------

    def _take(self, messages: list[Message]) -> tuple[list[Message], list[Span]]:
        """The fetched records the ledger says are ours, and their spans."""
        runs: dict[tuple[str, int], list[Message]] = {}
        for message in messages:
            error = message.error()
            if error is None:
                topic, partition, _ = _position(message)
                runs.setdefault((topic, partition), []).append(message)
            elif error.code() != KafkaError._PARTITION_EOF:
                if error.fatal():
                    raise ConsumerFailed(f"Kafka: {error.str()}")
                log.warning("consumer error: %s", error.str())
        batch: list[Message] = []
        spans: list[Span] = []
        for key, run in runs.items():
            span = self.ledger.fetched(key, _position(run[0])[2], _position(run[-1])[2])
            if span is not None:
                spans.append(span)
                batch.extend(run)
        return batch, spans

    def _process(self, batch: list[Message], spans: list[Span]) -> None:
        result = self._handle_batch([m.value() or b"" for m in batch])
        if not batch:
            return
        letters = [(_source(batch[r.index]), r.reason) for r in result.rejected]
        self._dead_letters.send(letters)
        for span in spans:
            self.ledger.done(span)
        state = self.state
        state.batches += 1
        state.messages += len(batch)
        state.saved += len(result.inserted)
        state.already_stored += result.already_stored
        state.dead_lettered += len(letters)
        if state.retrying_since is not None:
            log.info("recovered after %.1fs", time.monotonic() - state.retrying_since)
            state.retrying_since = None
        for rejected in result.rejected:
            message = batch[rejected.index]
            log.info(
                "dead-lettered message",
                extra={
                    "partition": message.partition(),
                    "offset": message.offset(),
                    "reason": rejected.reason[:500],
                },
            )
        if log.isEnabledFor(logging.DEBUG):
            for index, order_uid in result.accepted:
                log.debug(
                    "order saved" if order_uid in result.inserted else "order already stored",
                    extra={
                        "order_uid": order_uid,
                        "partition": batch[index].partition(),
                        "offset": batch[index].offset(),
                    },
                )

    def _retry_later(self, exc: Exception) -> None:
        """Rewind what was not done, then wait with fetching paused, still polling so that
        the group keeps us; a rebalance meanwhile is handled by the callbacks."""
        state = self.state
        state.retries += 1
        if state.retrying_since is None:
            state.retrying_since = time.monotonic()
            state.attempts = 0
        state.attempts += 1
        backoff = self.settings.retry_initial * 2 ** min(state.attempts - 1, 16)
        delay = min(backoff, self.settings.retry_max)
        log.warning("batch not done, retrying in %.1fs: %s", delay, exc)
        assignment = self._consumer.assignment()
        self._consumer.pause(assignment)
        for (topic, partition), offset in self.ledger.rewind().items():
            self._seek(TopicPartition(topic, partition, offset))
        self._waiting = True
        deadline = time.monotonic() + delay * random.uniform(0.8, 1.2)
        try:
            while not self._stop.is_set() and self._fatal is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                stray = self._consumer.poll(min(remaining, 0.5))
                if stray is not None and stray.error() is None:
                    # Fetched before the pause took effect: give it back for later.
                    self._seek(TopicPartition(*_position(stray)))
        finally:
            self._waiting = False
            self._consumer.resume(self._consumer.assignment())

    def _seek(self, tp: TopicPartition) -> None:
        try:
            self._consumer.seek(tp)
        except KafkaException as exc:  # the partition went away meanwhile: nothing to seek
            log.warning("seek %s[%d]@%d failed: %s", tp.topic, tp.partition, tp.offset, exc)

    # -- offsets ----------------------------------------------------------------------------

    def _commit(self) -> None:
        offsets = self.ledger.to_commit()
        if not offsets:
            return
        try:
            self._consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                asynchronous=False,
            )
        except KafkaException as exc:
            # Kept for the next try. If our membership lapsed, the partitions are revoked
            # or lost next, and the ledger sets their done offsets aside.
            log.warning("commit failed, will retry: %s", exc.args[0])
            return
        self.ledger.committed(offsets)
        self.state.commits += 1
        self.state.last_commit_at = time.time()

    def committed(self, timeout: float = 10.0) -> dict[tuple[str, int], int]:
        """The group's committed offsets for the partitions assigned now."""
        tps = self._consumer.committed(self._consumer.assignment(), timeout=timeout)
        return {_key(tp): tp.offset for tp in tps}

    # -- callbacks (run inside poll/consume) -------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("assigned %s", sorted(_key(tp) for tp in partitions))
        if not partitions:
            return
        committed = self._committed_of(
            consumer, [tp for tp in partitions if self.ledger.set_aside(_key(tp)) is not None]
        )
        starts = []
        for tp in partitions:
            start = self.ledger.assign(_key(tp), committed.get(_key(tp)))
            if start is None:
                starts.append(tp)
            else:
                log.info("resuming %s[%d] at %d, done before the rebalance", *_key(tp), start)
                starts.append(TopicPartition(tp.topic, tp.partition, start))
        consumer.incremental_assign(starts)
        if self._waiting:
            consumer.pause(starts)

    def _committed_of(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> dict[tuple[str, int], int]:
        if not partitions:
            return {}
        try:
            return {_key(tp): tp.offset for tp in consumer.committed(partitions, timeout=5)}
        except KafkaException as exc:
            log.warning("cannot read committed offsets: %s", exc)
            return {}

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("revoked %s", sorted(_key(tp) for tp in partitions))
        done = {
            _key(tp): offset
            for tp in partitions
            if (offset := self.ledger.revoke(_key(tp))) is not None
        }
        if not done:
            return
        # Commit what was done for these partitions before another consumer takes them.
        try:
            consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in done.items()],
                asynchronous=False,
            )
        except KafkaException as exc:
            log.warning("commit on revoke failed: %s", exc)
            for partition, offset in done.items():
                self.ledger.keep_aside(partition, offset)
            return
        self.state.commits += 1
        self.state.last_commit_at = time.time()

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning("lost %s", sorted(_key(tp) for tp in partitions))
        for tp in partitions:
            self.ledger.lose(_key(tp))

    def _on_error(self, error: KafkaError) -> None:
        if error.code() in CREDENTIALS_REFUSED:
            self._fatal = f"Kafka refused the credentials: {error.str()}"
        elif error.fatal():
            self._fatal = f"Kafka: {error.str()}"
        else:
            log.warning("kafka: %s", error.str())

    def _check_fatal(self) -> None:
        if self._fatal is not None:
            raise ConsumerFailed(self._fatal)


def _position(message: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a fetched record (never None once fetched)."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("message has no position (an error event, not a record)")
    return topic, partition, offset


def _source(message: Message) -> Source:
    topic, partition, offset = _position(message)
    kind, timestamp = message.timestamp()
    raw = message.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    headers = tuple(
        (name, value.encode() if isinstance(value, str) else value or b"") for name, value in pairs
    )
    return Source(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp if kind else None,
        key=message.key(),
        value=message.value() or b"",
        headers=headers,
    )
