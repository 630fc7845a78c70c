"""The broker restarts mid-run: the publisher and the consumer reconnect; nothing is lost,
nothing is doubled, not on the topic and not in PostgreSQL."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from tests.faults.harness.audit import CommitWatch, audit, saved_count
from tests.faults.harness.kafka import KafkaProbe, all_done, new_topic
from tests.faults.harness.measures import Figures
from tests.faults.harness.servers import services
from tests.faults.harness.workload import Publishing, Workload
from tests.support import Spawn, service_env, wait_until

pytestmark = pytest.mark.faults

ORDERS = 10_000


def test_broker_restart_mid_run_loses_and_doubles_nothing(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    partitions = 4
    topic = new_topic(partitions)
    group = f"group-{topic}"
    reserve = Workload.generate(2 * ORDERS, seed=404, invalid_ratio=0.05)
    consumer = spawn("consume", service_env(clean_database, topic), "consumer")
    restarted = threading.Event()
    with CommitWatch(topic, group, partitions) as commits:
        # Published over ~6 s, and on until the broker is back, so that the restart lands
        # while both sides are busy (work is published before and after it), however fast
        # each side is.
        publishing = Publishing(
            topic,
            reserve,
            rate=1_700,
            at_least=ORDERS,
            until=restarted.is_set,
            awaited=lambda: "the broker restarted",
        )
        wait_until(lambda: saved_count(clean_database) >= 2_000, 60, "2,000 saved", [consumer])
        restart_started = time.monotonic()
        services("restart", "kafka")
        back = time.monotonic()
        restarted.set()
        saved_when_back = saved_count(clean_database)
        # Recovered: the consumer saves again after the broker is back.
        recover = wait_until(
            lambda: saved_count(clean_database) > saved_when_back + 500,
            90,
            "saving to resume",
            [consumer],
        )
        publishing.join()
        workload = publishing.published
        probe = KafkaProbe(topic, group, partitions)
        try:
            ends = probe.end_offsets()
            wait_until(all_done(probe, ends), 120, "every offset committed", [consumer])
        finally:
            probe.close()
    code, _ = consumer.stop(signal.SIGTERM)

    result = audit(clean_database, topic, group, partitions, workload, commits)
    figures.record(
        **result.figures(),
        broker_down_s=back - restart_started,
        recover_s=recover,
        saved_at_restart=saved_when_back,
    )
    # The topic holds each published message once (the idempotent producer retried, never
    # doubled), and the usual: every order saved once, every invalid one dead-lettered.
    assert result.problems == []
    assert saved_when_back < result.valid, "the restart came after all the work was done"
    assert code == 0
