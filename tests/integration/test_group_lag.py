"""The group's lag read from the real broker: per partition, the commit, the end, the
messages waiting and the age of the oldest (records with known timestamps); a group that
committed nothing owes the whole topic; the reader never joins the group nor commits."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from adapters.kafka.client.group_lag import (
    GroupLagReader,
    LagSource,
    LagUnknown,
    PartitionLag,
)
from entrypoints.container import build_container, http_dependencies
from entrypoints.http.app import create_app
from tests.integration.kafka_helpers import committed_offsets, wait_for
from tests.support import KAFKA, service_settings

pytestmark = pytest.mark.integration

PARTITIONS = 4
PER_PARTITION = 10
# Record i of partition p was made at BASE + 100 p + i seconds: ages known to the second.
BASE = time.time() - 3600


def made_at(partition: int, offset: int) -> float:
    return BASE + 100 * partition + offset


@pytest.fixture
def published(topic: str) -> str:
    producer = Producer({"bootstrap.servers": KAFKA})
    for partition in range(PARTITIONS):
        for offset in range(PER_PARTITION):
            producer.produce(
                topic,
                b"order",
                partition=partition,
                timestamp=round(made_at(partition, offset) * 1000),
            )
    assert producer.flush(30) == 0
    return topic


def commit(group: str, topic: str, offsets: dict[int, int]) -> None:
    """Commit as a plain consumer of the group would (never subscribed: no rebalance)."""
    consumer = Consumer({"bootstrap.servers": KAFKA, "group.id": group})
    try:
        consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False
        )
    finally:
        consumer.close()


@pytest.fixture
def read_lag() -> Iterator[type[GroupLagReader]]:
    opened: list[GroupLagReader] = []

    class Closed(GroupLagReader):
        def __init__(self, source: LagSource, timeout: float = 10.0) -> None:
            super().__init__(source, timeout)
            opened.append(self)

    yield Closed
    for reader in opened:
        reader.close()


def assert_age(lag: PartitionLag, partition: int, offset: int) -> None:
    """The age of the record at ``offset``, as of the reading (a few seconds' slack)."""
    expected = time.time() - made_at(partition, offset)
    assert expected - 5 <= lag.seconds <= expected + 1, (lag, expected)


def test_each_partition_reports_its_commit_end_messages_and_oldest_age(
    published: str, read_lag: type[GroupLagReader]
) -> None:
    topic, group = published, f"lag-{uuid.uuid4().hex[:8]}"
    commit(group, topic, {0: 4, 1: PER_PARTITION, 3: 0})  # and nothing on partition 2
    lags = {lag.partition: lag for lag in read_lag(LagSource(KAFKA, group, topic)).read()}
    assert sorted(lags) == list(range(PARTITIONS))
    assert {p: (lag.committed, lag.high, lag.messages) for p, lag in lags.items()} == {
        0: (4, 10, 6),
        1: (10, 10, 0),
        2: (None, 10, 10),
        3: (0, 10, 10),
    }
    assert_age(lags[0], 0, 4)  # the record at the commit is the oldest waiting
    assert lags[1].seconds == 0.0  # nothing waits
    assert_age(lags[2], 2, 0)
    assert_age(lags[3], 3, 0)


def test_a_group_that_committed_nothing_owes_the_whole_topic(
    published: str, read_lag: type[GroupLagReader]
) -> None:
    lags = read_lag(LagSource(KAFKA, f"nobody-{uuid.uuid4().hex[:8]}", published)).read()
    assert [(lag.committed, lag.messages) for lag in lags] == [(None, PER_PARTITION)] * 4
    for lag in lags:
        assert_age(lag, lag.partition, 0)


def test_messages_retention_took_before_the_group_read_them_are_not_counted(
    published: str, read_lag: type[GroupLagReader]
) -> None:
    """The log start moved past the commit (retention, or deleted records): what is left
    waits, and the oldest of it is the record at the new log start."""
    topic, group = published, f"lag-{uuid.uuid4().hex[:8]}"
    commit(group, topic, {0: 2})
    admin = AdminClient({"bootstrap.servers": KAFKA})
    for future in admin.delete_records([TopicPartition(topic, 0, 7)]).values():
        future.result(timeout=15)
    lag = read_lag(LagSource(KAFKA, group, topic)).read()[0]
    assert (lag.committed, lag.messages) == (2, 3)
    assert_age(lag, 0, 7)


def test_reading_never_joins_the_group_nor_commits(
    published: str, read_lag: type[GroupLagReader]
) -> None:
    topic, group = published, f"lag-{uuid.uuid4().hex[:8]}"
    commit(group, topic, {0: 4})
    reader = read_lag(LagSource(KAFKA, group, topic))
    for _ in range(3):
        reader.read()
    admin = AdminClient({"bootstrap.servers": KAFKA})
    described = admin.describe_consumer_groups([group])[group].result(timeout=15)
    assert described.members == []
    assert committed_offsets(topic, group) == {0: 4, 1: 0, 2: 0, 3: 0}  # 0: none
    reader.close()
    fresh = Consumer({"bootstrap.servers": KAFKA, "group.id": group})
    try:
        tps = fresh.committed([TopicPartition(topic, p) for p in range(4)], timeout=10)
        assert [tp.offset for tp in tps] == [4, -1001, -1001, -1001]  # still nothing there
    finally:
        fresh.close()


def test_no_topic_or_no_broker_is_an_unknown_lag_within_the_timeout(
    read_lag: type[GroupLagReader],
) -> None:
    with pytest.raises(LagUnknown, match="topic"):
        read_lag(LagSource(KAFKA, "any", f"no-such-topic-{uuid.uuid4().hex[:8]}")).read()
    started = time.monotonic()
    with pytest.raises(LagUnknown):
        read_lag(LagSource("127.0.0.1:1", "any", "orders"), 1.0).read()
    assert time.monotonic() - started < 2.5


def group_lag_metrics(text: str, group: str) -> dict[tuple[str, str], float]:
    """(metric, partition) -> value, of one group, from /metrics."""
    return {
        (sample.name, sample.labels.get("partition", "")): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("order_service_group_lag")
        for sample in family.samples
        if sample.labels.get("group") == group
    }


def test_an_http_only_app_exports_the_group_lag_with_no_consumer_running(
    clean_database: str, published: str
) -> None:
    topic = published
    settings = service_settings(clean_database, topic, lag_poll_seconds=1)
    commit(settings.kafka_group, topic, {0: 4, 1: 10, 2: 10, 3: 10})
    container = build_container(settings)
    with TestClient(create_app(http_dependencies(container))) as client:
        found: dict[tuple[str, str], float] = {}

        def exported() -> bool:
            found.update(group_lag_metrics(client.get("/metrics").text, settings.kafka_group))
            return ("order_service_group_lag_up", "") in found

        wait_for(exported, timeout=15, what="the group lag on /metrics")
        assert found[("order_service_group_lag_up", "")] == 1.0
        messages = {p: v for (name, p), v in found.items() if name.endswith("_messages")}
        assert messages == {"0": 6.0, "1": 0.0, "2": 0.0, "3": 0.0}
        expected = time.time() - made_at(0, 4)
        assert expected - 5 <= found[("order_service_group_lag_seconds", "0")] <= expected + 1

        # The group commits more: the next reading says so, within the interval.
        commit(settings.kafka_group, topic, {0: 10})

        def partition_0_done() -> bool:
            now = group_lag_metrics(client.get("/metrics").text, settings.kafka_group)
            return now.get(("order_service_group_lag_messages", "0")) == 0.0

        wait_for(partition_0_done, timeout=10, what="the lag of partition 0 to fall to 0")
