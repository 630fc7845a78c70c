"""Publishes messages to Kafka and waits until the broker has acknowledged every one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from confluent_kafka import KafkaError, Message, Producer


class PublishFailed(RuntimeError):
    """Some messages were not acknowledged by the broker."""


class KafkaPublisher:
    """An idempotent producer (acks=all): a retry after a broker restart never doubles a message."""

    def __init__(
        self, bootstrap_servers: str, extra_config: dict[str, object] | None = None
    ) -> None:
        config: dict[str, object] = {
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "message.timeout.ms": 120_000,  # keep retrying through a broker restart
        }
        config.update(extra_config or {})
        self._producer = Producer(config)

    def publish(
        self,
        topic: str,
        messages: Iterable[tuple[bytes | None, bytes]],
        headers: Sequence[list[tuple[str, str | bytes | None]]] | None = None,
        timeout: float = 130.0,
    ) -> int:
        """Send (key, value) pairs; return how many were sent once all are acknowledged.

        Raises PublishFailed if any was refused or not acknowledged within ``timeout``.
        """
        errors: list[KafkaError] = []

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                errors.append(err)

        sent = 0
        for index, (key, value) in enumerate(messages):
            message_headers = headers[index] if headers is not None else None
            while True:
                try:
                    self._producer.produce(
                        topic, value=value, key=key, headers=message_headers, on_delivery=delivered
                    )
                    break
                except BufferError:  # local queue full: let deliveries drain
                    self._producer.poll(0.1)
            sent += 1
            self._producer.poll(0)
        remaining = self._producer.flush(timeout)
        if remaining or errors:
            raise PublishFailed(
                f"{remaining} messages unacknowledged, {len(errors)} refused"
                + (f" (first error: {errors[0]})" if errors else "")
            )
        return sent

    def close(self) -> None:
        self._producer.flush(10)
