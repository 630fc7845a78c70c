"""A stuck consumer seen from the brokers. Two instances share a topic while orders keep
arriving; one is frozen (SIGSTOP), so its partitions are stuck. The lag of those partitions,
as an `http` process reads it from the brokers (it runs no consumer, and the frozen one
reports nothing), rises in messages and in seconds while the other partitions' stays low;
once the frozen member's session lapses and the group rebalances, the other instance takes
its partitions over and their lag falls back to 0."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.faults.harness.kafka import KafkaProbe, new_topic
from tests.faults.harness.measures import Figures
from tests.faults.harness.workload import Publishing, Workload
from tests.support import Spawn, free_port, http_up, service_env, wait_until

pytestmark = pytest.mark.faults

PARTITIONS = 4
# A short session, so that the frozen member is dropped from the group in seconds.
KAFKA_CONFIG = "session.timeout.ms=6000"
RATE = 400  # messages/s: about 100 a second on each partition

Lag = dict[int, tuple[float, float]]  # partition -> (messages, seconds)


def broker_lag(port: int, group: str) -> Lag | None:
    """The group's lag on the `http` process's /metrics; None while it has no reading."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.TransportError:
        return None
    up, messages, seconds = 0.0, {}, {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("group") != group:
                continue
            if sample.name == "order_service_group_lag_up":
                up = sample.value
            elif sample.name == "order_service_group_lag_messages":
                messages[int(sample.labels["partition"])] = sample.value
            elif sample.name == "order_service_group_lag_seconds":
                seconds[int(sample.labels["partition"])] = sample.value
    if up != 1 or len(messages) != PARTITIONS:
        return None
    return {p: (messages[p], seconds[p]) for p in messages}


def test_a_stuck_partitions_lag_rises_then_falls_back_after_the_rebalance(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    began = time.monotonic()
    topic = new_topic(PARTITIONS)
    group = f"group-{topic}"
    consumer_env = service_env(
        clean_database, topic, batch_size=200, kafka_config=KAFKA_CONFIG, lag_poll_seconds=0
    )
    port = free_port()
    http_env = service_env(clean_database, topic, http_port=port, lag_poll_seconds=1)
    probe = KafkaProbe(topic, group, PARTITIONS)
    seen: list[Lag] = []

    def lag_now() -> Lag | None:
        found = broker_lag(port, group)
        if found is not None:
            seen.append(found)
        return found

    def lag_is(check: Callable[[Lag], bool]) -> bool:
        found = lag_now()
        return found is not None and check(found)

    a = spawn("consume", consumer_env, "consumer-a")
    b = spawn("consume", consumer_env, "consumer-b")
    h = spawn("http", http_env, "http")
    done = threading.Event()
    publishing = Publishing(
        topic,
        Workload.generate(40 * RATE, seed=4242, invalid_ratio=0.0),
        rate=RATE,
        at_least=0,
        until=done.is_set,
        awaited=lambda: "the lag to fall back after the rebalance",
    )
    try:
        wait_until(http_up(f"http://127.0.0.1:{port}/healthz"), 30, "the http process", [h])
        wait_until(
            lambda: [len(p) for p in probe.holders()] == [2, 2], 30, "a and b sharing", [a, b, h]
        )
        holders = probe.holders()
        # Both consume: nothing waits for long anywhere.
        wait_until(
            lambda: lag_is(lambda lag: all(s < 2 for _, s in lag.values())),
            20,
            "every partition consumed",
            [a, b, h],
        )

        b.send(signal.SIGSTOP)
        frozen_at = time.monotonic()
        wait_until(
            lambda: lag_is(lambda lag: sum(s >= 3 for _, s in lag.values()) == 2),
            15,
            "two partitions stuck",
            [a, h],
        )
        stuck_lag = seen[-1]
        stuck = {p for p, (_, s) in stuck_lag.items() if s >= 3}
        assert stuck in holders, f"the stuck partitions {stuck} are not b's: {holders}"
        moving = set(range(PARTITIONS)) - stuck
        assert all(stuck_lag[p][1] < 2 for p in moving), stuck_lag  # a goes on with its own
        wait_until(
            lambda: lag_is(lambda lag: all(lag[p][0] > stuck_lag[p][0] + 50 for p in stuck)),
            10,
            "the stuck partitions' lag to keep rising",
            [a, h],
        )
        rising = seen[-1]
        assert all(rising[p][1] > stuck_lag[p][1] for p in stuck), (stuck_lag, rising)

        def a_alone() -> bool:
            lag_now()  # sampled on: the stuck partitions' lag peaks just before the takeover
            return probe.holders() == [set(range(PARTITIONS))]

        # The frozen member's session lapses: a holds every partition and drains them.
        wait_until(a_alone, 30, "a alone", [a, h])
        rebalanced_s = time.monotonic() - frozen_at
        peak = {p: max(lag[p] for lag in seen) for p in stuck}
        wait_until(
            lambda: lag_is(lambda lag: all(s < 2 for _, s in lag.values())),
            20,
            "the stuck partitions caught up while orders still arrive",
            [a, h],
        )
        recovered_s = time.monotonic() - frozen_at
        done.set()
        publishing.join(30)
        wait_until(
            lambda: lag_is(lambda lag: all(lag_p == (0.0, 0.0) for lag_p in lag.values())),
            20,
            "no lag at all once the orders stop",
            [a, h],
        )
    finally:
        done.set()
        b.kill()  # frozen: SIGKILL still ends it
        probe.close()
    code, _ = a.stop(signal.SIGTERM)
    h.stop(signal.SIGTERM)

    figures.record(
        published=publishing.sent,
        stuck=len(stuck),
        peak_messages=max(m for m, _ in peak.values()),
        peak_seconds=max(s for _, s in peak.values()),
        rebalanced_s=rebalanced_s,
        lag_back_s=recovered_s,
        total_s=time.monotonic() - began,
    )
    assert code == 0
    # Stuck for the whole session timeout (6 s) at least: the age of the oldest order
    # waiting rose as long (read once a second).
    assert max(s for _, s in peak.values()) >= 4.0
