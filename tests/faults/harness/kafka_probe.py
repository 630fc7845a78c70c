"""A topic and its consumer group seen from outside: end offsets, commits, members."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from tests.faults.harness.kafka_topics import QUIET


class KafkaProbe:
    """Looks at a topic and its group from outside: end offsets, commits, members."""

    def __init__(self, topic: str, group: str, partitions: int) -> None:
        self.topic, self.group, self.partitions = topic, group, partitions
        # Never subscribes, so it never joins the group it reads the commits of.
        self._client = Consumer({**QUIET, "group.id": group})
        self._admin = AdminClient(QUIET)

    def end_offsets(self) -> dict[int, int]:
        return {
            p: self._client.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]
            for p in range(self.partitions)
        }

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
