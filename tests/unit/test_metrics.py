"""Consumer lag from librdkafka's statistics."""

from __future__ import annotations

import orjson

from adapters.telemetry.prometheus import CONSUMER_LAG, record_librdkafka_stats


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
