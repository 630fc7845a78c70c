"""A running instance's background work: the consumer thread and the cache warm-up."""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import KafkaException

from adapters.kafka.client.topics import KafkaCredentialsRefused, KafkaUnreachable
from adapters.kafka.ingest.consumer import ConsumerFailed, ConsumerState, OrderConsumer
from entrypoints.container import WorkerDependencies
from order_core import CacheAdmin, CacheUnavailable, RepositoryUnavailable

log = logging.getLogger(__name__)


class ConsumerThread:
    """Runs the consumer loop in a thread (its calls block); stops it cleanly on request.

    ``failure`` says why it stopped when it stopped on its own: readiness reports it.
    """

    def __init__(self, dependencies: WorkerDependencies) -> None:
        self._dependencies = dependencies
        self.consumer: OrderConsumer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.failure: str | None = None
        self.waiting_for: str | None = None  # why consuming has not started yet

    @property
    def state(self) -> ConsumerState | None:
        return None if self.consumer is None else self.consumer.state

    def start(self) -> None:
        self.consumer = self._dependencies.new_consumer()
        self._thread = threading.Thread(target=self._run, name="order-consumer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self.consumer is not None
        try:
            # Kafka may be down at start: HTTP serves meanwhile, and consuming starts later.
            while not self._stopping.is_set():
                try:
                    self._dependencies.prepare_topics()
                    break
                except (KafkaUnreachable, KafkaException) as exc:
                    self.waiting_for = f"Kafka not reachable: {exc}"
                    log.warning("Kafka not reachable yet, retrying: %s", exc)
                    self._stopping.wait(2.0)
            self.waiting_for = None
            if not self._stopping.is_set():
                self.consumer.run()
        except ConsumerFailed as exc:
            self.failure = str(exc)
        except KafkaCredentialsRefused as exc:
            self.failure = f"Kafka refused the credentials: {exc}"
            log.error("consumer not started: %s", self.failure)
        except BaseException as exc:  # a bug: never die silently while HTTP looks healthy
            self.failure = f"consumer crashed: {exc!r}"
            log.exception("consumer crashed")

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        if self.consumer is not None:
            self.consumer.stop()
        if self._thread is not None:
            self._thread.join(timeout)


class WarmUp:
    """Loads recent orders into the cache in a thread; start waits for it at most a bound."""

    def __init__(self, cache_admin: CacheAdmin) -> None:
        self._cache_admin = cache_admin
        self.loaded = 0
        self.done = threading.Event()

    def start(self, limit: int, wait: float) -> None:
        if limit <= 0:
            self.done.set()
            return
        thread = threading.Thread(
            target=self._run, args=(limit,), name="cache-warm-up", daemon=True
        )
        thread.start()
        if not self.done.wait(wait):
            log.info("warm-up goes on in the background after %.1fs", wait)

    def _run(self, limit: int) -> None:
        started = time.monotonic()
        try:
            self.loaded = self._cache_admin.warm_up(limit)
            log.info(
                "cache warmed up with %d orders in %.2fs", self.loaded, time.monotonic() - started
            )
        except (CacheUnavailable, RepositoryUnavailable) as exc:
            log.warning("cache warm-up skipped: %s", exc)
        finally:
            self.done.set()
