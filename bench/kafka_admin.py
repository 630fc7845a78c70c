"""Throwaway Kafka state for the benchmarks: orders topics and consumer group ids.

Each run publishes to a topic of its own (with its dead-letter topic) and consumes with
new group ids; the topics are deleted after their phase and the groups at the end.
"""

from __future__ import annotations

import contextlib
import uuid

from confluent_kafka.admin import AdminClient

from adapters.kafka.topics import ensure_topics
from bench.environment import KAFKA

PARTITIONS = 4  # the service's default for the orders topic


def create_topic(partitions: int = PARTITIONS) -> str:
    """A new orders topic (and its dead-letter topic) unique to this benchmark run."""
    name = f"orders-bench-{uuid.uuid4().hex[:10]}"
    ensure_topics(KAFKA, {name: partitions, f"{name}.dlq": 1})
    return name


def delete_topic(name: str) -> None:
    admin = AdminClient({"bootstrap.servers": KAFKA})
    for future in admin.delete_topics([name, f"{name}.dlq"], operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


_GROUPS: list[str] = []


def new_group(kind: str) -> str:
    """A new consumer group id, deleted by ``delete_groups`` at the end of the run."""
    name = f"bench-{kind}-{uuid.uuid4().hex[:10]}"
    _GROUPS.append(name)
    return name


def delete_groups() -> None:
    """Delete the consumer groups of this run (their members have all left by then)."""
    if not _GROUPS:
        return
    admin = AdminClient({"bootstrap.servers": KAFKA})
    for future in admin.delete_consumer_groups(list(_GROUPS), request_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)
    _GROUPS.clear()
