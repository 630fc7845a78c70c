"""PostgreSQL goes away: the consumer commits nothing it has not saved, waits paused (still
in the group), resumes by itself; the HTTP side serves cache hits and answers misses 503."""

from __future__ import annotations

import logging
import signal
import time

import pytest
from starlette.testclient import TestClient

from adapters.kafka.ingest.consumer import ConsumerSettings, OrderConsumer
from entrypoints.container import build_container, http_dependencies
from entrypoints.http.app import create_app
from tests.faults.harness.audit import CommitWatch, audit, saved_count, saved_uids
from tests.faults.harness.kafka import KafkaProbe, all_done, new_topic
from tests.faults.harness.measures import Figures
from tests.faults.harness.servers import BackendKiller, outage
from tests.faults.harness.workload import Publishing, Workload, publish
from tests.integration.kafka_helpers import running
from tests.support import KAFKA, Spawn, service_env, service_settings, wait_until

pytestmark = pytest.mark.faults

# Shorter than the outage below: a consumer that stopped polling while it waited would be
# dropped from the group (and come back under a new member id).
MAX_POLL_INTERVAL_MS = 8_000
OUTAGE_SECONDS = 11.0  # at least
RETRIES = 3  # at least, while the database is down
ORDERS = 10_000
KILLS, KILLS_MID_TRANSACTION = 20, 5  # at least, each


def test_postgres_stopped_mid_run_consumer_waits_in_the_group_and_http_answers_503(
    clean_database: str, figures: Figures, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.kafka.ingest.consumer")
    partitions = 4
    topic = new_topic(partitions)
    group = f"group-{topic}"
    workload = Workload.generate(10_000, seed=202, invalid_ratio=0.05)
    container = build_container(service_settings(clean_database, topic, cache_backend="memory"))
    consumer = OrderConsumer(
        ConsumerSettings(
            bootstrap_servers=KAFKA,
            topic=topic,
            group_id=group,
            batch_size=200,
            retry_initial=0.2,
            retry_max=1.0,
            session_timeout_ms=6_000,
            max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
        ),
        container.ingest(),
        container.dead_letters(),
    )
    probe = KafkaProbe(topic, group, partitions)
    with (
        TestClient(create_app(http_dependencies(container))) as client,
        CommitWatch(topic, group, partitions) as commits,
        running(consumer),
    ):
        half = len(workload.pairs) // 2
        publish(topic, workload, rate=2_500, stop=half)
        wait_until(lambda: saved_count(clean_database) >= 3_000, 60, "3,000 orders saved")
        cached = sorted(saved_uids(clean_database))[:20]
        members_before = probe.members()

        with outage("postgres") as pg:
            # The rest arrives while the database is down, whatever the ingest speed.
            publish(topic, workload, start=half)
            ends = probe.end_offsets()
            wait_until(
                lambda: consumer.state.retrying_since is not None, 30, "the consumer to wait"
            )
            committed_at_stop = probe.committed()
            # Cache hits are served; a miss is a prompt 503 in the JSON error shape.
            for uid in cached:
                answer = client.get(f"/orders/{uid}")
                assert answer.status_code == 200, (uid, answer.text)
            asked = time.monotonic()
            answer = client.get("/order", params={"id": "faultprobe0001"})
            miss_seconds = time.monotonic() - asked
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"]["code"] == "unavailable"
            assert answer.headers["retry-after"]
            assert pg.stopped_at is not None
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - pg.stopped_at)))
            # Down until the consumer has tried the batch again and again (each try waits
            # out the pool timeout, 5 s, so this count is what sets the outage's length).
            wait_until(
                lambda: consumer.state.retries >= RETRIES,
                45,
                f"the consumer to retry {RETRIES} times",
            )
            assert consumer.state.retrying_since is not None, "it moved on while the db was down"
            assert probe.committed() == committed_at_stop, "committed while nothing was saved"
            pg.start()

        recovered = wait_until(
            lambda: consumer.state.retrying_since is None, 60, "the consumer to resume"
        )
        members_after = probe.members()
        wait_until(all_done(probe, ends), 120, "every offset committed")
        # Only what happened while running: close() revokes everything, as it should.
        evicted = [
            r.getMessage() for r in caplog.records if r.getMessage().startswith(("lost", "revoked"))
        ]
    probe.close()

    result = audit(clean_database, topic, group, partitions, workload, commits)
    figures.record(
        **result.figures(),
        outage_s=pg.seconds,
        recover_s=recovered,
        retries=consumer.state.retries,
        http_miss_s=miss_seconds,
    )
    assert result.problems == []
    assert consumer.state.retries >= RETRIES  # it kept retrying, with capped backoff, while down
    assert miss_seconds < 10.0, "a miss must fail fast, not hang"
    # Still the same member: it kept polling while paused and was never evicted.
    assert members_before == members_after
    assert len(members_after) == 1
    assert evicted == []
    assert recovered < 15.0


def test_sessions_killed_mid_transaction_lose_and_double_nothing(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    partitions = 4
    topic = new_topic(partitions)
    group = f"group-{topic}"
    # 10,000 orders, published over ~10 s while sessions are killed; more from the reserve
    # only if the kills have not been counted by then.
    reserve = Workload.generate(2 * ORDERS, seed=303, invalid_ratio=0.05)
    consumer = spawn("consume", service_env(clean_database, topic, batch_size=200), "consumer")
    probe = KafkaProbe(topic, group, partitions)
    # Kills begin once the consumer saves: the fault is a session lost mid-ingest, not a
    # slow start (a group join) spent killing idle sessions.
    killer = BackendKiller(clean_database, every=(0.1, 0.5), start=False)
    try:
        with CommitWatch(topic, group, partitions) as commits:
            started = time.monotonic()
            publishing = Publishing(
                topic,
                reserve,
                rate=1_000,
                at_least=ORDERS,
                until=lambda: killer.reached(KILLS, KILLS_MID_TRANSACTION),
                awaited=lambda: (
                    f"{KILLS} kills, {KILLS_MID_TRANSACTION} of them mid-transaction, "
                    f"were counted (only {killer.killed}, {killer.killed_busy} in "
                    f"{killer.rounds} rounds); the consumer said:\n{consumer.output()[-4000:]}"
                ),
            )
            wait_until(
                lambda: saved_count(clean_database) > 0, 60, "the first batch saved", [consumer]
            )
            killer.start()
            publishing.join()
            # The kills end with the publishing: under a storm that cuts every save no
            # batch can finish (each retry lands in the next hunt); what must hold is that
            # nothing was lost and everything is stored once the storm is over.
            killer.stop()
            ends = probe.end_offsets()
            wait_until(all_done(probe, ends), 150, "every offset committed", [consumer])
            elapsed = time.monotonic() - started
    finally:
        killer.stop()
        probe.close()
    code, _ = consumer.stop(signal.SIGTERM)

    workload = publishing.published
    result = audit(clean_database, topic, group, partitions, workload, commits)
    retries = consumer.output().count("batch not done, retrying")
    figures.record(
        **result.figures(),
        sessions_killed=killer.killed,
        killed_mid_transaction=killer.killed_busy,
        batch_retries=retries,
        seconds=elapsed,
    )
    assert result.problems == []
    assert killer.killed >= KILLS, "the fault was not injected often enough to mean anything"
    assert killer.killed_busy >= KILLS_MID_TRANSACTION, "too few sessions cut mid-transaction"
    assert code == 0
