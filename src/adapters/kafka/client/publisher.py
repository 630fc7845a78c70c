"""Publishes records to Kafka and waits until the broker has acknowledged every one."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from adapters.kafka.client.records import CREDENTIALS_REFUSED, TOO_LARGE, Record, is_transient
from adapters.kafka.client.topics import LIBRDKAFKA_LOG

DeliveryReport = Callable[[KafkaError | None, Message], None]


class PublishFailed(RuntimeError):
    """Some records were not acknowledged for now (broker down, timeout): send them again.
    ``delivered`` holds the indexes of those that were."""

    def __init__(self, reason: str, delivered: frozenset[int] = frozenset()) -> None:
        self.delivered = delivered
        super().__init__(reason)


class PublishRefused(RuntimeError):
    """The broker refused for good: some records (``refused`` maps their index to the
    error), or every one (credentials refused: ``refused`` is empty)."""

    def __init__(self, refused: Mapping[int, KafkaError], reason: str | None = None) -> None:
        self.refused = dict(refused)
        if reason is None:
            first = next(iter(self.refused.values()))
            reason = f"{len(self.refused)} record(s) refused (first: {first.str()})"
        super().__init__(reason)

    @property
    def only_too_large(self) -> bool:
        return bool(self.refused) and all(e.code() in TOO_LARGE for e in self.refused.values())


class KafkaPublisher:
    """An idempotent producer (acks=all): a retry after a broker restart never doubles a record."""

    def __init__(
        self,
        bootstrap_servers: str,
        client_config: Mapping[str, str] | None = None,
        *,
        message_timeout_ms: int = 120_000,
    ) -> None:
        config: dict[str, object] = {
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "message.timeout.ms": message_timeout_ms,  # keep retrying through a restart
        }
        config.update(client_config or {})
        config["logger"] = LIBRDKAFKA_LOG
        config["error_cb"] = self._on_error
        self._refused: str | None = None
        self._producer = Producer(config)
        self._flush_timeout = message_timeout_ms / 1000 + 10

    def publish(self, topic: str, records: Iterable[Record], timeout: float | None = None) -> int:
        """Send the records; return how many once all are acknowledged.

        Raises PublishFailed if any was not acknowledged for now (the others were), and
        PublishRefused (with the indexes) if the broker refused some for good.
        """
        refused: dict[int, KafkaError] = {}
        failed: list[KafkaError] = []
        acknowledged: set[int] = set()

        def delivered(index: int) -> DeliveryReport:
            def report(err: KafkaError | None, _msg: Message) -> None:
                if err is None:
                    acknowledged.add(index)
                elif is_transient(err):
                    failed.append(err)
                else:
                    refused[index] = err

            return report

        sent = 0
        for index, record in enumerate(records):
            self._produce(topic, record, delivered(index), refused, index)
            sent += 1
            self._producer.poll(0)
        remaining = self._flush(self._flush_timeout if timeout is None else timeout)
        if remaining or failed:
            first = f" (first error: {failed[0].str()})" if failed else ""
            raise PublishFailed(
                f"{remaining} unacknowledged, {len(failed)} failed{first}", frozenset(acknowledged)
            )
        if refused:
            raise PublishRefused(refused)
        return sent - len(refused)

    def close(self) -> None:
        self._producer.flush(0 if self._refused else 10)

    def _flush(self, timeout: float) -> int:
        """Flush, but stop at once if the brokers refuse our credentials."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = self._producer.flush(min(0.5, max(0.0, deadline - time.monotonic())))
            if self._refused is not None:
                raise PublishRefused({}, f"Kafka refused the credentials: {self._refused}")
            if not remaining or time.monotonic() >= deadline:
                return remaining

    def _on_error(self, error: KafkaError) -> None:
        if error.code() in CREDENTIALS_REFUSED:
            self._refused = error.str()

    def _produce(
        self,
        topic: str,
        record: Record,
        on_delivery: DeliveryReport,
        refused: dict[int, KafkaError],
        index: int,
    ) -> None:
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=record.value,
                    key=record.key,
                    headers=list(record.headers) or None,
                    on_delivery=on_delivery,
                )
                return
            except BufferError:  # the local queue is full: let deliveries drain
                self._producer.poll(0.1)
            except KafkaException as exc:  # refused before sending (too large, ...)
                error: KafkaError = exc.args[0]
                if is_transient(error):
                    raise PublishFailed(error.str()) from exc
                refused[index] = error
                return


def pairs(messages: Sequence[tuple[bytes | None, bytes]]) -> list[Record]:
    """(key, value) pairs as records, for callers with no headers."""
    return [Record(key, value) for key, value in messages]
