"""Consumer lag from librdkafka's statistics, and the group's lag from the brokers."""

from __future__ import annotations

import math

import orjson
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from adapters.kafka.client.group_lag import GroupLag, PartitionLag
from adapters.telemetry.prometheus import (
    CONSUMER_LAG,
    GROUP_LAG_MESSAGES,
    GROUP_LAG_SECONDS,
    GROUP_LAG_UP,
    forget_partitions,
    record_librdkafka_stats,
    report_group_lag,
)


def lag(topic: str, partition: str) -> float:
    return CONSUMER_LAG.labels(topic, partition)._value.get()  # type: ignore[no-any-return]


def test_lag_counts_from_the_commit_then_the_position_then_the_log_start() -> None:
    partitions = {
        "0": {"ls_offset": 100, "committed_offset": 60, "app_offset": 90, "lo_offset": 0},
        "1": {"ls_offset": 50, "committed_offset": -1001, "app_offset": 45, "lo_offset": 0},
        "2": {"ls_offset": 30, "committed_offset": -1001, "app_offset": -1001, "lo_offset": 10},
        "-1": {"ls_offset": -1001, "committed_offset": -1001, "app_offset": -1001},
    }
    record_librdkafka_stats(
        orjson.dumps({"topics": {"lagtest": {"partitions": partitions}}}).decode()
    )
    assert (lag("lagtest", "0"), lag("lagtest", "1"), lag("lagtest", "2")) == (40, 5, 20)


def reported(topic: str) -> set[str]:
    return {
        sample.labels["partition"]
        for metric in CONSUMER_LAG.collect()
        for sample in metric.samples
        if sample.labels.get("topic") == topic
    }


def _stats(topic: str, partitions: dict[str, dict[str, object]]) -> str:
    return orjson.dumps({"topics": {topic: {"partitions": partitions}}}).decode()


def test_a_partition_no_longer_held_has_no_lag_reported_here() -> None:
    """After a rebalance the old owner's last figure must not stand beside the new owner's:
    the lag of a revoked or lost partition goes at once, and statistics that show a
    partition not fetched by this consumer remove it too."""
    held = {"ls_offset": 100, "committed_offset": 60, "fetch_state": "active"}
    record_librdkafka_stats(_stats("moved", {"0": held, "1": held, "2": held}))
    assert reported("moved") == {"0", "1", "2"}

    forget_partitions([("moved", 1)])
    assert reported("moved") == {"0", "2"}
    forget_partitions([("moved", 1), ("never-reported", 7)])  # no error for either

    gone = {**held, "fetch_state": "none"}
    record_librdkafka_stats(_stats("moved", {"0": held, "2": gone}))
    assert reported("moved") == {"0"}


def test_with_several_worker_processes_a_moved_partition_reads_0(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Series cannot be removed from the shared files of multiprocess mode: a revoked
    partition's lag is set to 0 there (the owner's figure wins the recording rule's max),
    and a partition never reported here gets no series at all."""
    held = {"ls_offset": 100, "committed_offset": 40, "fetch_state": "active"}
    record_librdkafka_stats(_stats("shared", {"0": held}))
    assert lag("shared", "0") == 60
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/nonexistent-only-read-by-the-code")
    forget_partitions([("shared", 0), ("shared", 9)])
    assert lag("shared", "0") == 0
    assert reported("shared") == {"0"}


def group_lag(group: str) -> dict[str, dict[tuple[str, ...], float]]:
    """The exported group-lag samples of one group: metric -> labels -> value."""
    found: dict[str, dict[tuple[str, ...], float]] = {}
    for family in text_string_to_metric_families(generate_latest().decode()):
        if family.name.startswith("order_service_group_lag"):
            for sample in family.samples:
                if sample.labels.get("group") == group:
                    labels = tuple(v for k, v in sorted(sample.labels.items()) if k != "group")
                    found.setdefault(sample.name, {})[labels] = sample.value
    return found


def reading(group: str, *lags: PartitionLag) -> GroupLag:
    return GroupLag(group, "orders", tuple(lags))


def test_a_reading_of_the_group_lag_is_exported_per_partition_with_up_1() -> None:
    report_group_lag(reading("g1", PartitionLag(0, 6, 60.0, 4, 10), PartitionLag(1, 0, 0.0, 9, 9)))
    assert group_lag("g1") == {
        "order_service_group_lag_messages": {("0", "orders"): 6.0, ("1", "orders"): 0.0},
        "order_service_group_lag_seconds": {("0", "orders"): 60.0, ("1", "orders"): 0.0},
        "order_service_group_lag_up": {("orders",): 1.0},
    }


def test_an_unknown_reading_drops_the_figures_and_says_so() -> None:
    """No stale figure stands as current: the partitions' series go, up says 0; the next
    reading brings them back."""
    report_group_lag(reading("g2", PartitionLag(0, 6, 60.0, 4, 10)))
    report_group_lag(GroupLag("g2", "orders", None, "the brokers did not answer in time"))
    assert group_lag("g2") == {"order_service_group_lag_up": {("orders",): 0.0}}
    report_group_lag(GroupLag("g2", "orders", None, "still"))  # nothing left to drop
    report_group_lag(reading("g2", PartitionLag(0, 2, 5.0, 8, 10)))
    assert group_lag("g2")["order_service_group_lag_messages"] == {("0", "orders"): 2.0}
    assert group_lag("g2")["order_service_group_lag_up"] == {("orders",): 1.0}


def test_a_partition_no_longer_in_the_reading_is_dropped() -> None:
    report_group_lag(reading("g3", PartitionLag(0, 1, 1.0, 0, 1), PartitionLag(1, 1, 1.0, 0, 1)))
    report_group_lag(reading("g3", PartitionLag(0, 0, 0.0, 1, 1)))
    assert group_lag("g3")["order_service_group_lag_messages"] == {("0", "orders"): 0.0}


def test_with_several_worker_processes_an_unknown_reading_reads_nan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Series cannot be removed from the shared files of multiprocess mode: NaN ("no
    figure") instead, at every unknown reading (another process may have written since)."""
    report_group_lag(reading("g4", PartitionLag(0, 6, 60.0, 4, 10)))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/nonexistent-only-read-by-the-code")
    for _ in range(2):
        report_group_lag(GroupLag("g4", "orders", None, "timed out"))
        assert math.isnan(GROUP_LAG_MESSAGES.labels("g4", "orders", "0")._value.get())
        assert math.isnan(GROUP_LAG_SECONDS.labels("g4", "orders", "0")._value.get())
        assert GROUP_LAG_UP.labels("g4", "orders")._value.get() == 0
        GROUP_LAG_MESSAGES.labels("g4", "orders", "0").set(6)  # another process's reading


def test_the_group_lag_gauges_show_the_most_recent_reading_across_worker_processes() -> None:
    """Every process reads the same broker figure: the freshest one is the truth."""
    for gauge in (GROUP_LAG_MESSAGES, GROUP_LAG_SECONDS, GROUP_LAG_UP):
        assert gauge._multiprocess_mode == "livemostrecent"
