"""The order consumer: reads batches, hands them to the core, commits only what is done.

The order of events for every batch is fixed:
1. the valid orders are saved (one database transaction) and cached;
2. the invalid messages are published to the dead-letter topic and acknowledged;
3. only then are the batch's offsets committed.
If step 1 or 2 fails, nothing is committed: partitions are paused, the consumer keeps
polling (so it stays in the group) and retries the same batch with capped exponential
backoff; it never moves on past messages it has not saved. If step 3 fails because the
group took the partitions away (a broker restart can end the membership), the saved offsets
are kept aside and a partition that comes back resumes after them, not at the old commit.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence

import attrs
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from adapters.kafka.publisher import KafkaPublisher, PublishFailed
from order_core.errors import RepositoryUnavailable
from order_core.ingest import IngestResult

log = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[bytes]], IngestResult]


@attrs.frozen
class ConsumerSettings:
    bootstrap_servers: str = "localhost:9092"
    topic: str = "orders"
    dead_letter_topic: str = "orders.dlq"
    group_id: str = "order-service"
    batch_size: int = 500
    poll_timeout: float = 0.5
    retry_initial: float = 0.5  # seconds before the first retry of a failed batch
    retry_max: float = 15.0  # the backoff's cap
    session_timeout_ms: int = 10_000
    max_poll_interval_ms: int = 300_000


@attrs.define
class ConsumerStats:
    """Running totals, read by metrics and tests."""

    batches: int = 0
    messages: int = 0
    saved: int = 0
    already_stored: int = 0
    dead_lettered: int = 0
    retries: int = 0
    commits: int = 0
    waiting_since: float | None = None  # monotonic time when the current outage began


def _key(tp: TopicPartition) -> tuple[str, int]:
    return tp.topic, tp.partition


def _where(message: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a fetched message (never None once fetched)."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("message has no position (an error event, not a record)")
    return topic, partition, offset


def _next_offsets(batch: Sequence[Message]) -> dict[tuple[str, int], int]:
    """For each partition in the batch, the offset after its last message."""
    result: dict[tuple[str, int], int] = {}
    for message in batch:
        topic, partition, offset = _where(message)
        result[topic, partition] = max(result.get((topic, partition), -1), offset + 1)
    return result


class OrderConsumer:
    """Consumes the orders topic in a consumer group and drives the save-then-cache use case."""

    def __init__(
        self,
        settings: ConsumerSettings,
        handle_batch: BatchHandler,
        dead_letters: KafkaPublisher,
        extra_config: dict[str, object] | None = None,
    ) -> None:
        self.settings = settings
        self.stats = ConsumerStats()
        self._handle_batch = handle_batch
        self._dead_letters = dead_letters
        self._stop = threading.Event()
        self._waiting = False
        self._revoked: set[tuple[str, int]] = set()
        self._uncommitted: dict[tuple[str, int], int] = {}
        # Saved, but the partition was taken away before the commit went through (our
        # membership lapsed, e.g. over a broker restart): resumed from here if it comes back.
        self._saved_not_committed: dict[tuple[str, int], int] = {}
        self.assigned: set[tuple[str, int]] = set()
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
        }
        config.update(extra_config or {})
        self._consumer = Consumer(config)

    # -- life cycle ---------------------------------------------------------------------

    def run(self) -> None:
        """Consume until ``stop()``; then commit what was saved and leave the group."""
        self._consumer.subscribe(
            [self.settings.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        log.info("consuming %s as group %s", self.settings.topic, self.settings.group_id)
        try:
            while not self._stop.is_set():
                self._commit_pending()
                messages = self._consumer.consume(
                    num_messages=self.settings.batch_size, timeout=self.settings.poll_timeout
                )
                batch = self._usable(messages)
                if batch:
                    self._process(batch)
        finally:
            self._commit_pending()
            self._consumer.close()  # leaves the group at once, no session timeout wait
            log.info("consumer closed")

    def stop(self) -> None:
        """Ask the loop to stop after the batch in hand (safe from signal handlers)."""
        self._stop.set()

    # -- one batch ------------------------------------------------------------------------

    def _usable(self, messages: list[Message]) -> list[Message]:
        usable = []
        for message in messages:
            error = message.error()
            if error is None:
                usable.append(message)
            elif error.code() != KafkaError._PARTITION_EOF:
                if error.fatal():
                    raise KafkaException(error)
                log.warning("consumer error: %s", error)
        return usable

    def _process(self, batch: list[Message]) -> None:
        delay = self.settings.retry_initial
        self._revoked.clear()
        while True:
            batch = [m for m in batch if _where(m)[:2] not in self._revoked]
            if not batch:
                return  # every partition of the batch went to another consumer: it re-reads them
            try:
                self._save_and_dead_letter(batch)
                break
            except (RepositoryUnavailable, PublishFailed, KafkaException) as exc:
                self.stats.retries += 1
                if self.stats.waiting_since is None:
                    self.stats.waiting_since = time.monotonic()
                log.warning("batch of %d not saved, retrying in %.1fs: %s", len(batch), delay, exc)
                if not self._wait_paused(delay, batch):
                    return  # stopping: the batch is abandoned uncommitted and read again later
                delay = min(delay * 2, self.settings.retry_max)
        if self.stats.waiting_since is not None:
            log.info("recovered after %.1fs", time.monotonic() - self.stats.waiting_since)
            self.stats.waiting_since = None
        for key, offset in _next_offsets(batch).items():
            self._uncommitted[key] = max(self._uncommitted.get(key, -1), offset)
        self._commit_pending()

    def _save_and_dead_letter(self, batch: list[Message]) -> None:
        result = self._handle_batch([m.value() or b"" for m in batch])
        self.stats.batches += 1
        self.stats.messages += len(batch)
        self.stats.saved += len(result.inserted)
        self.stats.already_stored += result.already_stored
        if result.rejected:
            dead = [batch[r.index] for r in result.rejected]
            headers: list[list[tuple[str, str | bytes | None]]] = []
            for rejected, message in zip(result.rejected, dead, strict=True):
                topic, partition, offset = _where(message)
                headers.append(
                    [
                        ("dlq.reason", rejected.reason.encode()),
                        ("dlq.topic", topic.encode()),
                        ("dlq.partition", str(partition).encode()),
                        ("dlq.offset", str(offset).encode()),
                        *(message.headers() or []),
                    ]
                )
            self._dead_letters.publish(
                self.settings.dead_letter_topic,
                [(m.key(), m.value() or b"") for m in dead],
                headers=headers,
            )
            self.stats.dead_lettered += len(dead)
            for rejected, message in zip(result.rejected, dead, strict=True):
                _, partition, offset = _where(message)
                log.info(
                    "dead-lettered message",
                    extra={"partition": partition, "offset": offset, "reason": rejected.reason},
                )
        if log.isEnabledFor(logging.DEBUG):
            for index, order_uid in result.accepted:
                _, partition, offset = _where(batch[index])
                log.debug(
                    "order saved" if order_uid in result.inserted else "order already stored",
                    extra={"order_uid": order_uid, "partition": partition, "offset": offset},
                )

    def _wait_paused(self, seconds: float, batch: list[Message]) -> bool:
        """Wait with fetching paused, still polling so the group keeps us. False if stopping."""
        assignment = self._consumer.assignment()
        self._waiting = True
        self._consumer.pause(assignment)
        deadline = time.monotonic() + seconds * random.uniform(0.8, 1.2)
        try:
            while not self._stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return True
                stray = self._consumer.poll(min(remaining, 0.5))
                if stray is not None and stray.error() is None:
                    # A partition assigned while waiting: give the message back for later.
                    self._consumer.seek(TopicPartition(*_where(stray)))
            return False
        finally:
            self._waiting = False
            paused = self._consumer.assignment()
            self._consumer.resume(paused)
            # Pausing dropped the prefetched messages: fetch again right after this batch.
            self._rewind_after(batch, paused)

    def _rewind_after(self, batch: list[Message], assignment: list[TopicPartition]) -> None:
        next_offsets = _next_offsets(batch)
        owned = {_key(tp) for tp in assignment}
        for (topic, partition), offset in next_offsets.items():
            if (topic, partition) in owned:
                try:
                    self._consumer.seek(TopicPartition(topic, partition, offset))
                except KafkaException as exc:
                    log.warning("seek %s[%d]@%d failed: %s", topic, partition, offset, exc)

    # -- offsets ----------------------------------------------------------------------------

    def _commit_pending(self) -> None:
        if not self._uncommitted:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._uncommitted.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Kept for the next try. If our membership lapsed (ILLEGAL_GENERATION,
            # UNKNOWN_MEMBER_ID) the partitions are revoked or lost next, and those
            # callbacks set the offsets aside; a rebalance in progress ends by itself.
            log.warning("commit failed, will retry: %s", exc.args[0])
            return
        self.stats.commits += 1
        self._uncommitted.clear()

    # -- rebalance callbacks (run inside poll/consume) ---------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assigned.update(_key(tp) for tp in partitions)
        log.info("assigned %s", sorted(_key(tp) for tp in partitions))
        if not partitions:
            return
        partitions = self._resume_saved(consumer, partitions)
        consumer.incremental_assign(partitions)
        if self._waiting:
            consumer.pause(partitions)

    def _resume_saved(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> list[TopicPartition]:
        """Start a returning partition after what we saved but could not commit, and commit
        it: otherwise the saved batches are read (and dead-lettered) a second time."""
        mine = {
            _key(tp): self._saved_not_committed.pop(_key(tp))
            for tp in partitions
            if _key(tp) in self._saved_not_committed
        }
        if not mine:
            return partitions
        try:
            committed = {
                _key(tp): tp.offset
                for tp in consumer.committed([TopicPartition(*k) for k in mine], timeout=5)
            }
        except KafkaException as exc:
            log.warning("cannot read committed offsets, re-reading from them: %s", exc)
            return partitions
        result = []
        for tp in partitions:
            key = _key(tp)
            saved = mine.get(key, -1)
            if saved > committed.get(key, -1):  # nobody went further meanwhile
                result.append(TopicPartition(tp.topic, tp.partition, saved))
                self._uncommitted[key] = saved
                log.info("resuming %s[%d] at %d, saved before the rebalance", *key, saved)
            else:
                result.append(tp)
        return result

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {_key(tp) for tp in partitions}
        log.info("revoked %s", sorted(revoked))
        # Commit what was saved for these partitions before another consumer takes them.
        done = {k: v for k, v in self._uncommitted.items() if k in revoked}
        if done:
            try:
                consumer.commit(
                    offsets=[TopicPartition(t, p, o) for (t, p), o in done.items()],
                    asynchronous=False,
                )
            except KafkaException as exc:
                log.warning("commit on revoke failed: %s", exc)
                self._set_aside(done)
        for key in revoked:
            self._uncommitted.pop(key, None)
        self._revoked.update(revoked)
        self.assigned.difference_update(revoked)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lost = {_key(tp) for tp in partitions}
        log.warning("lost %s", sorted(lost))
        self._set_aside({k: v for k, v in self._uncommitted.items() if k in lost})
        for key in lost:
            self._uncommitted.pop(key, None)
        self._revoked.update(lost)
        self.assigned.difference_update(lost)

    def _set_aside(self, offsets: dict[tuple[str, int], int]) -> None:
        for key, offset in offsets.items():
            self._saved_not_committed[key] = max(self._saved_not_committed.get(key, -1), offset)

    def committed(self, timeout: float = 10.0) -> dict[tuple[str, int], int]:
        """The group's committed offsets for the partitions assigned now."""
        tps = self._consumer.committed(self._consumer.assignment(), timeout=timeout)
        return {_key(tp): tp.offset for tp in tps}
