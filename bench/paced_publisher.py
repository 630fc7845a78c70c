"""The visibility phase's producer: a thread that publishes orders on a fixed schedule with
the settings of the service's own publisher and notes each acknowledgement as librdkafka
hands it over, with the order's partition, offset and the moment it arrived.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Sequence

import attrs
from confluent_kafka import KafkaError, Message, Producer

from adapters.kafka.records import Record
from bench.environment import KAFKA


@attrs.frozen
class Ack:
    offset: int
    order_uid: str
    acked_at: float


def _producer() -> Producer:
    # The settings of the service's KafkaPublisher.
    return Producer(
        {
            "bootstrap.servers": KAFKA,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
        }
    )


class PacedPublisher(threading.Thread):
    """Publishes the records on a fixed schedule; notes each acknowledgement as it arrives."""

    def __init__(self, topic: str, records: Sequence[Record], rate: float) -> None:
        super().__init__(name="bench-publisher", daemon=True)
        self._topic = topic
        self._records = records
        self._rate = rate
        self.acks: collections.deque[tuple[int, Ack]] = collections.deque()
        self.failed = 0
        self.acked = 0
        self.started_at = 0.0
        self.last_ack_at = 0.0
        self.finished = threading.Event()

    def _delivered(self, err: KafkaError | None, message: Message) -> None:
        now = time.monotonic()
        if err is not None:
            self.failed += 1
            return
        key = message.key() or b""
        self.acked += 1
        self.acks.append((message.partition() or 0, Ack(message.offset() or 0, key.decode(), now)))
        self.last_ack_at = now

    def run(self) -> None:
        producer = _producer()
        try:
            self.started_at = start = time.monotonic()
            for index, record in enumerate(self._records):
                slot = start + index / self._rate
                while (now := time.monotonic()) < slot:
                    producer.poll(slot - now)  # serves the acknowledgements as they come
                producer.produce(
                    self._topic, value=record.value, key=record.key, on_delivery=self._delivered
                )
                producer.poll(0)
            producer.flush(30)
        finally:
            self.finished.set()
