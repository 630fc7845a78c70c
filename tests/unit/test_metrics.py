"""Consumer lag from librdkafka's statistics."""

from __future__ import annotations

import orjson
import pytest

from adapters.telemetry.prometheus import (
    CONSUMER_LAG,
    forget_partitions,
    record_librdkafka_stats,
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
