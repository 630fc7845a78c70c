"""A test's own Kafka topics and its consumer group, seen from outside the service.

``new_topic`` makes a test's topics, ``read_topic`` reads one back whole, ``KafkaProbe``
looks at the group (end offsets, commits, members), and ``all_done`` is the state of the
group having committed everything.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping

import attrs
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from adapters.kafka.client.raw_headers import read_raw_headers
from adapters.kafka.client.topics import ensure_topics
from adapters.kafka.ingest.messages import position
from tests.support import KAFKA

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


def _end_offsets(consumer: Consumer, topic: str, partitions: int) -> dict[int, int]:
    """The end offset of each partition of ``topic``."""
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in range(partitions)
    }


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
        ends = _end_offsets(reader, topic, partitions)
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


class KafkaProbe:
    """Looks at a topic and its group from outside: end offsets, commits, members."""

    def __init__(self, topic: str, group: str, partitions: int) -> None:
        self.topic, self.group, self.partitions = topic, group, partitions
        # Never subscribes, so it never joins the group it reads the commits of.
        self._client = Consumer({**QUIET, "group.id": group})
        self._admin = AdminClient(QUIET)

    def end_offsets(self) -> dict[int, int]:
        return _end_offsets(self._client, self.topic, self.partitions)

    def committed(self, timeout: float = 10.0) -> dict[int, int]:
        tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        return {tp.partition: max(tp.offset, 0) for tp in self._client.committed(tps, timeout)}

    def members(self) -> dict[str, set[int]]:
        """Each member of the group (by member id) and the partitions it holds."""
        future = self._admin.describe_consumer_groups([self.group], request_timeout=10)[self.group]
        description = future.result(timeout=15)
        return {
            member.member_id: {
                tp.partition for tp in member.assignment.topic_partitions if tp.topic == self.topic
            }
            for member in description.members
        }

    def holders(self) -> list[set[int]]:
        """The partitions each member holds, sorted; [] while the group is in between."""
        try:
            return sorted(self.members().values(), key=sorted)
        except Exception:  # the group may be between generations
            return []

    def close(self) -> None:
        self._client.close()


def all_done(probe: KafkaProbe, ends: Mapping[int, int]) -> Callable[[], bool]:
    """True once the group has committed up to ``ends`` on every partition."""

    def check() -> bool:
        try:
            return probe.committed(timeout=5) == dict(ends)
        except KafkaException:
            return False

    return check
