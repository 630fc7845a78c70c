"""A test's own Kafka topics: made new, and read back whole."""

from __future__ import annotations

import time
import uuid

import attrs
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from adapters.kafka.messages import position
from adapters.kafka.raw_headers import read_raw_headers
from adapters.kafka.topics import ensure_topics
from tests.integration.conftest import KAFKA

# The test's own clients stay quiet while the broker is away on purpose.
QUIET: dict[str, str | int | float | bool] = {"bootstrap.servers": KAFKA, "log_level": 0}


def new_topic(partitions: int = 4) -> str:
    """A new orders topic and its dead-letter topic, unique to the caller."""
    name = f"orders-fault-{uuid.uuid4().hex[:10]}"
    ensure_topics(KAFKA, {name: partitions, f"{name}.dlq": 1})
    return name


@attrs.frozen
class Record:
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp: float  # seconds (the producer's create time)


def read_topic(topic: str, partitions: int, timeout: float = 60.0) -> dict[tuple[int, int], Record]:
    """Every record of a topic, by (partition, offset)."""
    reader = Consumer(
        {
            **QUIET,
            "group.id": f"fault-reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        ends = {
            p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
        remaining = {p for p, end in ends.items() if end > 0}
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in remaining])
        records: dict[tuple[int, int], Record] = {}
        deadline = time.monotonic() + timeout
        while remaining:
            assert time.monotonic() < deadline, f"could not read all of {topic}: {remaining} left"
            for message in reader.consume(num_messages=1000, timeout=0.5):
                if message.error() is not None:
                    continue
                _, partition, offset = position(message)
                records[partition, offset] = Record(
                    message.key(),
                    message.value() or b"",
                    read_raw_headers(message).pairs,
                    message.timestamp()[1] / 1000,
                )
                if offset + 1 >= ends[partition]:
                    remaining.discard(partition)
        return records
    finally:
        reader.close()
