"""Kafka records as plain values, and what a failed send means."""

from __future__ import annotations

import attrs
from confluent_kafka import KafkaError

Headers = tuple[tuple[str, bytes], ...]

TOO_LARGE = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE})
# librdkafka retries these itself until message.timeout.ms; reported, they mean "not now".
NOT_NOW = frozenset(
    {
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
    }
)
CREDENTIALS_REFUSED = frozenset({KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED})


@attrs.frozen
class Record:
    key: bytes | None
    value: bytes
    headers: Headers = ()

    @property
    def size(self) -> int:
        """Roughly what the record weighs against the broker's size limit."""
        return (
            len(self.key or b"")
            + len(self.value)
            + sum(len(name) + len(value) + 8 for name, value in self.headers)
            + 64
        )


def is_transient(error: KafkaError) -> bool:
    return error.code() in NOT_NOW or (error.retriable() and error.code() not in TOO_LARGE)
