"""Helpers for tests that drive the real Kafka broker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from confluent_kafka import Consumer, TopicPartition

from adapters.kafka.client.publisher import KafkaPublisher
from adapters.kafka.client.records import Record
from adapters.kafka.ingest.consumer import OrderConsumer
from tests.support import KAFKA


def publish(topic: str, messages: Iterable[tuple[bytes | None, bytes]]) -> int:
    publisher = KafkaPublisher(KAFKA)
    try:
        return publisher.publish(topic, [Record(k, v) for k, v in messages])
    finally:
        publisher.close()


def end_offsets(topic: str, partitions: int = 4) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": KAFKA, "group.id": "offset-reader"})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
    finally:
        consumer.close()


def committed_offsets(topic: str, group: str, partitions: int = 4) -> dict[int, int]:
    """The group's committed offset per partition (0 where nothing is committed yet)."""
    reader = Consumer({"bootstrap.servers": KAFKA, "group.id": group})
    try:
        tps = reader.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return {tp.partition: max(tp.offset, 0) for tp in tps}
    finally:
        reader.close()


def read_all(topic: str, expected: int, timeout: float = 30.0) -> list[object]:
    """Read ``expected`` messages of a topic from the beginning (e.g. the dead letters)."""
    consumer = Consumer(
        {
            "bootstrap.servers": KAFKA,
            "group.id": f"reader-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    found: list[object] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < expected and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=500, timeout=0.5):
                if message.error() is None:
                    found.append(message)
        return found
    finally:
        consumer.close()


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextmanager
def running(consumer: OrderConsumer) -> Iterator[OrderConsumer]:
    """Run a consumer in a thread for the duration of the block, then stop it cleanly."""
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        yield consumer
    finally:
        consumer.stop()
        thread.join(30)
        assert not thread.is_alive(), "consumer did not stop"
