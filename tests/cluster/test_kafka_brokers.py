"""Three brokers, every topic replicated three times with ``min.insync.replicas=2``:

- the broker that leads the most partitions of the orders topic dies mid-flood (its whole
  process tree frozen, then killed) and comes back: the others take its partitions over;
  nothing is lost, nothing doubled, no commit runs ahead of the work;
- two of the three die: no write can reach two in-sync replicas, so nothing is committed
  and ingestion pauses; /readyz says why (offsets not committed); it resumes when one
  broker returns.
"""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

from tests.cluster import nodes
from tests.faults.harness.audit import CommitWatch, audit, saved_count
from tests.faults.harness.kafka import KafkaProbe, all_done, new_topic
from tests.faults.harness.measures import Figures
from tests.faults.harness.workload import Publishing, Workload
from tests.support import Spawn, free_port, http_up, service_env, wait_until

ORDERS = 10_000
PARTITIONS = 6


def test_the_broker_leading_most_partitions_dies_mid_flood_and_nothing_is_lost(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    topic = new_topic(PARTITIONS)
    group = f"group-{topic}"
    reserve = Workload.generate(2 * ORDERS, seed=2001, invalid_ratio=0.05)
    consumer = spawn("consume", service_env(clean_database, topic), "consumer")
    going_on = threading.Event()
    with CommitWatch(topic, group, PARTITIONS) as commits:
        # Published until saving goes on without the broker: it dies while both sides work.
        publishing = Publishing(
            topic,
            reserve,
            rate=1_200,
            at_least=ORDERS,
            until=going_on.is_set,
            awaited=lambda: "saving went on without the broker",
        )
        wait_until(lambda: saved_count(clean_database) >= 2_000, 90, "2,000 saved", [consumer])
        node, led = nodes.leading_broker(topic)
        pid = nodes.broker(node).pid()
        assert pid is not None
        killed = time.monotonic()
        nodes.kill_node(pid)
        saved_at_kill = saved_count(clean_database)
        # The other two lead its partitions now: saving goes on without it.
        resumed = wait_until(
            lambda: saved_count(clean_database) > saved_at_kill + 1_000,
            120,
            "saving to go on without the broker",
            [consumer],
        )
        going_on.set()
        new_leader, _ = nodes.leading_broker(topic)
        restart = nodes.start("kafka-cluster")
        publishing.join()
        workload = publishing.published
        probe = KafkaProbe(topic, group, PARTITIONS)
        try:
            wait_until(
                all_done(probe, probe.end_offsets()), 180, "every offset committed", [consumer]
            )
        finally:
            probe.close()
    code, _ = consumer.stop(signal.SIGTERM)

    result = audit(clean_database, topic, group, PARTITIONS, workload, commits)
    figures.record(
        **result.figures(),
        killed_broker=node,
        partitions_it_led=led,
        saving_resumed_s=resumed,
        broker_back_s=restart,
        down_for_s=time.monotonic() - killed,
    )
    assert result.problems == []
    assert new_leader != node or led < PARTITIONS
    assert saved_at_kill < result.valid, "the broker died after all the work was done"
    assert code == 0


def test_two_brokers_of_three_down_pause_ingestion_and_readiness_says_why(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    topic = new_topic(PARTITIONS)
    group = f"group-{topic}"
    # The pause, the broker's return and the group's rejoin (its session timed out while
    # the coordinator was away) take 30 s or more: a reserve for 40 s of publishing.
    reserve = Workload.generate(4 * ORDERS, seed=2002, invalid_ratio=0.05)
    port = free_port()
    stall = 5.0
    env = service_env(clean_database, topic, ops_port=port, ready_max_stall=stall)
    consumer = spawn("consume", env, "consumer")
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
    wait_until(http_up(f"http://127.0.0.1:{port}/healthz"), 60, "the ops server", [consumer])
    resumed_event = threading.Event()
    with CommitWatch(topic, group, PARTITIONS) as commits:
        # While two are down no write is acknowledged, so publishing waits with the rest.
        publishing = Publishing(
            topic,
            reserve,
            rate=1_200,
            at_least=ORDERS,
            until=resumed_event.is_set,
            awaited=lambda: "ingestion resumed",
        )
        wait_until(lambda: saved_count(clean_database) >= 2_000, 90, "2,000 saved", [consumer])
        first, _ = nodes.leading_broker(topic)
        second = next(n for n in (1, 2, 3) if n != first)
        survivor = next(n for n in (1, 2, 3) if n not in (first, second))
        went_down = time.monotonic()
        for node in (first, second):
            pid = nodes.broker(node).pid()
            assert pid is not None
            nodes.kill_node(pid)
        # Paused: what was fetched before may still be saved, then nothing moves.
        wait_until(
            lambda: http.get("/readyz").status_code == 503,
            stall + 60,
            "/readyz to fail",
            [consumer],
        )
        not_ready = http.get("/readyz").json()
        paused_at = saved_count(clean_database)
        time.sleep(3.0)
        paused_after = saved_count(clean_database)
        returned = time.monotonic()
        services_up = _start_broker(second)
        resumed = wait_until(
            lambda: saved_count(clean_database) > paused_after + 500,
            120,
            "saving to resume with two brokers",
            [consumer],
        )
        resumed_event.set()
        wait_until(lambda: http.get("/readyz").status_code == 200, 60, "ready again", [consumer])
        publishing.join(timeout=300)
        workload = publishing.published
        nodes.start("kafka-cluster")  # the third one too
        probe = KafkaProbe(topic, group, PARTITIONS)
        try:
            wait_until(
                all_done(probe, probe.end_offsets()), 180, "every offset committed", [consumer]
            )
        finally:
            probe.close()
    code, _ = consumer.stop(signal.SIGTERM)
    http.close()

    result = audit(clean_database, topic, group, PARTITIONS, workload, commits)
    reason = str(not_ready.get("checks", {}).get("consumer", ""))
    figures.record(
        **result.figures(),
        brokers_down=f"{first},{second}",
        survivor=survivor,
        not_ready_after_s=returned - went_down,
        readyz_said=repr(reason[:120]),
        saved_while_paused=paused_after - paused_at,
        broker_back_s=services_up,
        resumed_s=resumed,
    )
    assert result.problems == []
    assert paused_after - paused_at < 500, "ingestion went on without two in-sync replicas"
    assert reason.startswith(("offsets not committed", "no batch completed")), reason
    assert code == 0


def _start_broker(node: int) -> float:
    """Start one broker of the cluster (``services.sh up`` would wait for all three)."""
    started = time.monotonic()
    broker = nodes.broker(node)
    broker.launch()
    broker.wait()
    return time.monotonic() - started


pytestmark = pytest.mark.cluster
