"""Background work of a running instance: the consumer thread and the cache warm-up."""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import KafkaException

from adapters.kafka.order_consumer import ConsumerFailed, ConsumerState, OrderConsumer
from adapters.kafka.topics import KafkaCredentialsRefused, KafkaUnreachable, ensure_topics
from entrypoints.command_errors import Unreachable
from entrypoints.container import Container
from entrypoints.settings import Settings
from order_core import CacheUnavailable, RepositoryUnavailable

log = logging.getLogger(__name__)


def prepare_topics(settings: Settings, timeout: float = 10.0) -> None:
    ensure_topics(
        settings.kafka_bootstrap,
        {settings.kafka_topic: settings.kafka_partitions, settings.kafka_dlq_topic: 1},
        client_config=settings.kafka_client_config(),
        timeout=timeout,
    )


def kafka_ready(settings: Settings) -> None:
    """``prepare_topics`` for a command: any failure is one line and exit code 1."""
    try:
        prepare_topics(settings)
    except KafkaCredentialsRefused as exc:
        raise Unreachable(f"Kafka refused the credentials: {exc}") from None
    except (KafkaUnreachable, KafkaException) as exc:
        raise Unreachable(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}") from None


class ConsumerThread:
    """Runs the consumer loop in a thread (its calls block); stops it cleanly on request.

    ``failure`` says why it stopped when it stopped on its own: readiness reports it.
    """

    def __init__(self, container: Container) -> None:
        self._container = container
        self.consumer: OrderConsumer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.failure: str | None = None
        self.waiting_for: str | None = None  # why consuming has not started yet

    @property
    def state(self) -> ConsumerState | None:
        return None if self.consumer is None else self.consumer.state

    def start(self) -> None:
        self.consumer = self._container.consumer()
        self._thread = threading.Thread(target=self._run, name="order-consumer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self.consumer is not None
        try:
            # Kafka may be down at start: HTTP serves meanwhile, and consuming starts later.
            while not self._stopping.is_set():
                try:
                    prepare_topics(self._container.settings())
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

    def __init__(self, container: Container) -> None:
        self._container = container
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
            self.loaded = self._container.cache_admin().warm_up(limit)
            log.info(
                "cache warmed up with %d orders in %.2fs", self.loaded, time.monotonic() - started
            )
        except (CacheUnavailable, RepositoryUnavailable) as exc:
            log.warning("cache warm-up skipped: %s", exc)
        finally:
            self.done.set()
