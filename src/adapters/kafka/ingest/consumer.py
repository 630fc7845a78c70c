"""The order consumer: the poll loop that feeds batches to the core and commits what is done.

For every batch, in this order:
1. the core validates and encodes it (``prepare``: CPU only);
2. the core saves the valid orders in one transaction and caches them (``store``);
3. the rejected messages go to the dead-letter topic and are acknowledged;
4. the offset ledger marks the batch done, and the commit point moves past it.
Step 2 of one batch runs in a saver thread while the loop fetches and prepares the next,
so the database and Python work at the same time; one batch at most is in flight.

Every failure has one outcome. *Transient* (the database or the broker is unavailable, or
a save did not return within ``save_timeout``: it is abandoned): nothing more is committed;
every partition is rewound to its first message not done and paused, and the loop keeps
polling (so it stays in the group) while it backs off, then reads and tries again.
*Fatal* (the database refuses in a way waiting cannot mend, the broker refuses our
credentials or a dead letter for good): the loop commits what is done
and stops with ConsumerFailed, which the process reports (readiness, exit code).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import attrs
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from adapters.kafka.client.publisher import PublishFailed, PublishRefused
from adapters.kafka.client.records import CREDENTIALS_REFUSED
from adapters.kafka.client.topics import LIBRDKAFKA_LOG
from adapters.kafka.dead_letters.publisher import DeadLetterPublisher
from adapters.kafka.ingest.messages import HeaderCache, log_outcomes, position, source, take
from adapters.kafka.ingest.offset_ledger import OffsetLedger, Span
from adapters.kafka.ingest.rebalance import GroupOffsets
from adapters.kafka.ingest.state import (
    BatchIngest,
    ConsumerFailed,
    ConsumerSettings,
    ConsumerState,
)
from adapters.telemetry.events import ConsumerProgress
from adapters.telemetry.tracing import NO_TRACING, Tracing
from order_core.errors import RepositoryFailed, RepositoryUnavailable
from order_core.ingest import IngestResult

log = logging.getLogger(__name__)

TRANSIENT = (RepositoryUnavailable, PublishFailed)
FATAL = (RepositoryFailed, PublishRefused, ConsumerFailed)

__all__ = ["BatchIngest", "ConsumerFailed", "ConsumerSettings", "ConsumerState", "OrderConsumer"]


@attrs.frozen
class _InFlight:
    result: Future[IngestResult]
    batch: list[Message]
    spans: list[Span]
    started_ns: int
    headers: HeaderCache


class OrderConsumer:
    """Consumes the orders topic in a consumer group and drives the save-then-cache use case."""

    def __init__(
        self,
        settings: ConsumerSettings,
        ingest: BatchIngest,
        dead_letters: DeadLetterPublisher,
        *,
        stats_cb: Callable[[str], None] | None = None,
        tracing: Tracing = NO_TRACING,
        report_state: Callable[[ConsumerProgress], None] = lambda _progress: None,
        released: Callable[[list[tuple[str, int]]], None] = lambda _partitions: None,
    ) -> None:
        self.settings = settings
        self._tracing = tracing
        self._report = report_state
        self._report_released = released
        self.state = ConsumerState()
        self.ledger = OffsetLedger()
        self._ingest = ingest
        self._dead_letters = dead_letters
        self._stop = threading.Event()
        self._stopped_at: float | None = None
        self._fatal: str | None = None
        self._in_flight: _InFlight | None = None
        self._deferred: Exception | None = None  # a failure met inside a callback
        self._saver = ThreadPoolExecutor(1, thread_name_prefix="order-saver")
        self._jitter = random.Random()  # of its own: the process's generator is not ours
        # The partitions of the batch being retried: while any is still ours, work waits.
        self._retrying: set[tuple[str, int]] = set()
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
            # Prefetched messages are memory too: at most two batches' worth.
            "queued.max.messages.kbytes": max(1024, 2 * settings.batch_max_bytes // 1024),
            "error_cb": self._on_error,
            "logger": LIBRDKAFKA_LOG,
        }
        if stats_cb is not None:
            config.update({"statistics.interval.ms": 5000, "stats_cb": stats_cb})
        config.update(settings.client_config)
        self._consumer = Consumer(config)
        self._offsets = GroupOffsets(self._consumer, self.ledger, self.state, self._settle)

    def run(self) -> None:
        """Consume until ``stop()``; then commit what is done and leave the group.

        Raises ConsumerFailed when it had to stop on an error no retry can mend.
        """
        offsets = self._offsets
        self._consumer.subscribe(
            [self.settings.topic],
            on_assign=offsets.on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self.state.running = True
        log.info("consuming %s as group %s", self.settings.topic, self.settings.group_id)
        try:
            while not self._stop.is_set():
                self._step()
        except FATAL as exc:
            self.state.failure = str(exc)
            log.error("consumer stopped: %s", exc)
            raise ConsumerFailed(str(exc)) from exc
        finally:
            self.state.running = False
            self._report(self.state.progress())
            self._settle(self.settings.shutdown_timeout)
            offsets.commit()
            self._consumer.close()  # leaves the group at once, no session timeout wait
            self._saver.shutdown(wait=False)  # an abandoned save must not hold the exit
            log.info("consumer closed")

    def stop(self) -> None:
        """Ask the loop to stop after the batch in hand, which gets ``shutdown_timeout``
        (safe from signal handlers)."""
        if self._stopped_at is None:
            self._stopped_at = time.monotonic()
        self._stop.set()

    # -- the loop ---------------------------------------------------------------------------

    def _step(self) -> None:
        self._report(self.state.progress())
        if self._fatal is not None:
            raise ConsumerFailed(self._fatal)
        self._offsets.commit()
        messages = self._consumer.consume(
            num_messages=self.settings.batch_size, timeout=self.settings.poll_timeout
        )
        batch, spans, left_over = take(messages, self.ledger, self.settings.batch_max_bytes)
        for (topic, partition), offset in left_over.items():  # over the byte bound: later
            self._seek(TopicPartition(topic, partition, offset))
        prepared = self._ingest.prepare([m.value() or b"" for m in batch])  # overlaps the save
        try:
            self._finish(self.settings.save_timeout)
            if self._deferred is not None:
                failure, self._deferred = self._deferred, None
                raise failure
        except TRANSIENT as exc:
            self._retry_later(exc)  # drops the prepared batch too: it is read again
            return
        if batch:
            result = self._saver.submit(self._ingest.store, prepared)
            self._in_flight = _InFlight(
                result, batch, spans, self._tracing.now(), HeaderCache(batch)
            )
            self.state.working()
        else:
            self._ingest.store(prepared)  # nothing new: an idle moment for the core
            if not self._retrying and not self.ledger.pending():
                self.state.caught_up()

    def _finish(self, timeout: float) -> None:
        """Wait for the batch in flight (at most ``timeout``), dead-letter what it rejected,
        mark it done."""
        flight, self._in_flight = self._in_flight, None
        if flight is None:
            return
        try:
            result = self._outcome(flight, timeout)
            letters = []
            for rejected in result.rejected:
                origin, note = source(flight.batch[rejected.index], flight.headers[rejected.index])
                letters.append((origin, rejected.reason + note))
            self._dead_letters.send(letters)
        except Exception as exc:
            self._trace(flight, None, exc)
            raise
        for span in flight.spans:
            self.ledger.done(span)
        self._retrying.clear()
        if (recovered := self.state.batch_done(len(flight.batch), result)) is not None:
            log.info("recovered after %.1fs", recovered)
        log_outcomes(flight.batch, result)
        self._trace(flight, result, None)

    def _trace(
        self, flight: _InFlight, result: IngestResult | None, error: BaseException | None
    ) -> None:
        if self._tracing.enabled:
            self._tracing.batch_span(
                topic=self.settings.topic,
                started_ns=flight.started_ns,
                headers=flight.headers.all(),
                size=len(flight.batch),
                result=result,
                error=error,
            )

    def _outcome(self, flight: _InFlight, timeout: float) -> IngestResult:
        """The batch's result, waiting at most ``timeout``, and once asked to stop at most
        ``shutdown_timeout`` from then."""
        deadline = time.monotonic() + timeout
        while True:
            if self._stopped_at is not None:
                deadline = min(deadline, self._stopped_at + self.settings.shutdown_timeout)
            left = deadline - time.monotonic()
            try:
                return flight.result.result(timeout=max(0.0, min(left, 0.2)))
            except FutureTimeout:
                if time.monotonic() < deadline:
                    continue
            # The saver thread is stuck in the database (the repository's watchdog ends
            # it); the next save gets a thread of its own. Nothing of this batch is done.
            self._saver.shutdown(wait=False)
            self._saver = ThreadPoolExecutor(1, thread_name_prefix="order-saver")
            waited = timeout if self._stopped_at is None else self.settings.shutdown_timeout
            raise RepositoryUnavailable(f"a save did not return within {waited:.0f}s: abandoned")

    def _settle(self, timeout: float | None = None) -> None:
        """Finish the batch in flight now (before a handover or at the end); a failure is
        kept for the loop, which rewinds and retries."""
        try:
            self._finish(self.settings.save_timeout if timeout is None else timeout)
        except (*TRANSIENT, *FATAL) as exc:  # never raised into librdkafka's callback
            self._deferred = exc

    def _retry_later(self, exc: Exception) -> None:
        """Rewind what is not done, then wait with fetching paused, still polling so that
        the group keeps us; a rebalance meanwhile is handled by the callbacks."""
        attempts = self.state.batch_failed(str(exc))
        backoff = self.settings.retry_initial * 2 ** min(attempts - 1, 16)
        delay = min(backoff, self.settings.retry_max) * self._jitter.uniform(0.8, 1.2)
        log.warning("batch not done, retrying in %.1fs: %s", delay, exc)
        self._consumer.pause(self._consumer.assignment())
        for (topic, partition), offset in self.ledger.rewind().items():
            self._retrying.add((topic, partition))
            self._seek(TopicPartition(topic, partition, offset))
        self._offsets.paused = True
        deadline = time.monotonic() + delay
        try:
            while not self._stop.is_set() and self._fatal is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._report(self.state.progress())
                stray = self._consumer.poll(min(remaining, 0.5))
                if stray is not None and stray.error() is None:
                    # Fetched before the pause took effect: give it back for later.
                    self._seek(TopicPartition(*position(stray)))
        finally:
            self._offsets.paused = False
            self._consumer.resume(self._consumer.assignment())

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._offsets.on_revoke(consumer, partitions)
        self._released(partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._offsets.on_lost(consumer, partitions)
        self._released(partitions)

    def _released(self, partitions: list[TopicPartition]) -> None:
        """Partitions gone to another consumer: what waited on them is not ours to wait on
        (the retry they were in is not ours either), nor is their lag ours to report."""
        self._report_released([(tp.topic, tp.partition) for tp in partitions])
        if not self._retrying:
            return
        self._retrying -= {(tp.topic, tp.partition) for tp in partitions}
        if not self._retrying and not self.ledger.pending() and self._in_flight is None:
            self.state.caught_up()

    def _seek(self, tp: TopicPartition) -> None:
        try:
            self._consumer.seek(tp)
        except KafkaException as exc:  # the partition went away meanwhile: nothing to seek
            log.warning("seek %s[%d]@%d failed: %s", tp.topic, tp.partition, tp.offset, exc)

    def _on_error(self, error: KafkaError) -> None:
        if error.code() in CREDENTIALS_REFUSED:
            self._fatal = f"Kafka refused the credentials: {error.str()}"
        elif error.fatal():
            self._fatal = f"Kafka: {error.str()}"
        else:
            log.warning("kafka: %s", error.str())
