"""The topics the service creates, as its settings say (on the real broker)."""

from __future__ import annotations

import uuid

import confluent_kafka.admin
import pytest
from confluent_kafka.admin import AdminClient

from entrypoints.container import prepare_topics
from entrypoints.settings import load
from tests.support import KAFKA

pytestmark = pytest.mark.integration
ConfigResource = confluent_kafka.admin.ConfigResource  # type: ignore[attr-defined]


def _configs(admin: AdminClient, topic: str) -> dict[str, str]:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    described = admin.describe_configs([resource])[resource].result(timeout=20)
    return {name: entry.value for name, entry in described.items()}


def _names() -> tuple[str, str]:
    name = f"topics-test-{uuid.uuid4().hex[:10]}"
    return name, f"{name}.dlq"


@pytest.mark.parametrize(("days", "retention_ms"), [(2.0, "172800000"), (0.0, "-1")])
def test_the_topics_are_created_as_the_settings_say(days: float, retention_ms: str) -> None:
    orders, dead = _names()
    settings = load(
        {},
        {
            "kafka_bootstrap": KAFKA,
            "kafka_topic": orders,
            "kafka_dlq_topic": dead,
            "kafka_partitions": "3",
            "kafka_dlq_partitions": "2",
            "kafka_min_insync_replicas": "1",
            "kafka_dlq_retention_days": str(days),
        },
    )
    prepare_topics(settings)
    admin = AdminClient({"bootstrap.servers": KAFKA})
    topics = admin.list_topics(timeout=20).topics
    assert len(topics[orders].partitions) == 3
    assert len(topics[dead].partitions) == 2
    # -1: the broker's default.replication.factor (1 on the single broker, 3 on the cluster).
    broker = ConfigResource(
        ConfigResource.Type.BROKER, str(next(iter(topics[orders].partitions.values())).leader)
    )
    default = admin.describe_configs([broker])[broker].result(timeout=20)[
        "default.replication.factor"
    ]
    for topic in (orders, dead):
        assert {len(p.replicas) for p in topics[topic].partitions.values()} == {int(default.value)}
    assert _configs(admin, dead)["retention.ms"] == retention_ms
    assert _configs(admin, orders)["min.insync.replicas"] == "1"
    assert _configs(admin, dead)["min.insync.replicas"] == "1"


def test_with_creation_off_no_topic_is_created() -> None:
    orders, dead = _names()
    settings = load(
        {},
        {
            "kafka_bootstrap": KAFKA,
            "kafka_topic": orders,
            "kafka_dlq_topic": dead,
            "kafka_create_topics": "false",
        },
    )
    prepare_topics(settings)  # reaches the broker, creates nothing
    topics = AdminClient({"bootstrap.servers": KAFKA}).list_topics(timeout=20).topics
    assert orders not in topics
    assert dead not in topics
