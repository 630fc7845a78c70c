"""What the consumer reads off a fetched confluent-kafka message."""

from __future__ import annotations

from confluent_kafka import Message

from adapters.kafka.dead_letters import Source


def position(message: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a fetched record (never None once fetched)."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("message has no position (an error event, not a record)")
    return topic, partition, offset


def headers(message: Message) -> tuple[tuple[str, bytes], ...]:
    raw = message.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return tuple(
        (name, value.encode() if isinstance(value, str) else value or b"") for name, value in pairs
    )


def source(message: Message) -> Source:
    """The message as the source of a dead letter."""
    topic, partition, offset = position(message)
    kind, timestamp = message.timestamp()
    return Source(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp if kind else None,
        key=message.key(),
        value=message.value() or b"",
        headers=headers(message),
    )
