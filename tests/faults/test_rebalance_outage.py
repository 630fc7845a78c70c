"""Rebalances while PostgreSQL is down: a consumer waiting out the outage (its batch failing
and retried) has partitions taken away and given back, or loses its whole assignment when
its session lapses while it is frozen; once PostgreSQL is back nothing is lost, nothing is
doubled and no offset was committed past unsaved work."""

from __future__ import annotations

import functools
import signal
import time

import pytest

from entrypoints.container import build_container
from tests.faults.harness.audit import CommitWatch, audit, saved_count
from tests.faults.harness.kafka import KafkaProbe, all_done, new_topic
from tests.faults.harness.measures import Figures
from tests.faults.harness.servers import frozen, outage
from tests.faults.harness.workload import Workload, publish
from tests.integration.kafka_helpers import running
from tests.support import ServiceProcess, Spawn, service_env, service_settings, wait_until

pytestmark = pytest.mark.faults

# A short session, so that a freeze of FREEZE_SECONDS makes it lapse (any librdkafka
# property can be set through ORDER_SERVICE_KAFKA_CONFIG).
KAFKA_CONFIG = "session.timeout.ms=6000"
FREEZE_SECONDS = 10.0
RETRYING = "batch not done, retrying"
LOST = "adapters.kafka.ingest.consumer: lost ["
ASSIGNED = "adapters.kafka.ingest.consumer: assigned ["
RECOVERED = "adapters.kafka.ingest.consumer: recovered after"


def reported_since(process: ServiceProcess, mark: int, text: str) -> bool:
    """Whether the process has logged ``text`` after the first ``mark`` characters."""
    return text in process.output()[mark:]


def retries(process: ServiceProcess, since: int = 0) -> int:
    """Failed batch attempts the process has logged (after character ``since``)."""
    return process.output()[since:].count(RETRYING)


def test_instance_joining_and_leaving_during_a_postgres_outage_loses_nothing(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    partitions = 4
    topic = new_topic(partitions)
    group = f"group-{topic}"
    workload = Workload.generate(10_000, seed=1001, invalid_ratio=0.05)
    half = len(workload.pairs) // 2
    env = service_env(clean_database, topic, batch_size=200, kafka_config=KAFKA_CONFIG)
    probe = KafkaProbe(topic, group, partitions)
    with CommitWatch(topic, group, partitions) as commits:
        a = spawn("consume", env, "consumer-a")
        publish(topic, workload, stop=half)
        wait_until(lambda: saved_count(clean_database) >= 3_000, 60, "3,000 saved", [a])

        with outage("postgres") as pg:
            # The rest arrives while the database is down: work is waiting in every partition.
            publish(topic, workload, start=half)
            ends = probe.end_offsets()
            wait_until(lambda: retries(a) >= 1, 30, "instance a to retry its batch", [a])
            committed_at_stop = probe.committed()
            before_join = len(a.output())

            # Instance b joins while a waits (in this process: `consume` would not start
            # with PostgreSQL down), takes half the partitions, fails on them too, and leaves.
            container = build_container(
                service_settings(
                    clean_database, topic, batch_size=200, retry_max=1, kafka_config=KAFKA_CONFIG
                )
            )
            b = container.consumer()
            try:
                with running(b):
                    wait_until(
                        lambda: [len(p) for p in probe.holders()] == [2, 2],
                        60,
                        "a and b sharing the partitions",
                        [a],
                    )
                    wait_until(
                        lambda: b.state.retries >= 1, 30, "instance b to retry its batch", [a]
                    )
                    assert retries(a, before_join) >= 1, "a stopped retrying when b joined"
                b_gone = time.monotonic()
                regained = wait_until(
                    lambda: probe.holders() == [set(range(partitions))],
                    30,
                    "a holding every partition again",
                    [a],
                )
            finally:
                container.shutdown_resources()
            rebalance_log = a.output()[before_join:]
            assert a.alive
            assert RECOVERED not in a.output(), "a was not waiting any more"
            assert probe.committed() == committed_at_stop, "committed while nothing was saved"
            pg.start()

        recovered = wait_until(all_done(probe, ends), 120, "every offset committed", [a])
        code, _ = a.stop(signal.SIGTERM)
    probe.close()

    result = audit(clean_database, topic, group, partitions, workload, commits)
    figures.record(
        **result.figures(),
        outage_s=pg.seconds,
        a_retries=retries(a),
        b_retries=b.state.retries,
        b_saved=b.state.saved,
        regained_s=regained,
        done_after_pg_back_s=recovered,
        b_left_to_pg_back_s=(pg.started_at or 0) - b_gone,
    )
    assert result.problems == []
    assert b.state.saved == 0  # b only ever met the outage
    assert "adapters.kafka.ingest.consumer: revoked [" in rebalance_log  # a gave b partitions...
    assert ASSIGNED in rebalance_log  # ...and got them back
    assert code == 0


def test_consumer_frozen_past_its_session_during_a_postgres_outage_loses_nothing(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    # The report's case: 20,000 orders on 4 partitions, batches of 200, PostgreSQL stopped,
    # the waiting consumer frozen (SIGSTOP) until its session lapsed, then continued.
    partitions = 4
    topic = new_topic(partitions)
    group = f"group-{topic}"
    workload = Workload.generate(20_000, seed=1002, invalid_ratio=0.05)
    half = len(workload.pairs) // 2
    env = service_env(clean_database, topic, batch_size=200, kafka_config=KAFKA_CONFIG)
    probe = KafkaProbe(topic, group, partitions)
    freezes: list[float] = []
    with CommitWatch(topic, group, partitions) as commits:
        consumer = spawn("consume", env, "consumer")
        publish(topic, workload, stop=half)
        wait_until(lambda: saved_count(clean_database) >= 5_000, 60, "5,000 saved", [consumer])
        members_before = set(probe.members())

        with outage("postgres") as pg:
            publish(topic, workload, start=half)
            ends = probe.end_offsets()
            wait_until(lambda: retries(consumer) >= 1, 30, "the consumer to retry", [consumer])
            committed_at_stop = probe.committed()

            # Frozen until the group has dropped it: each freeze outlasts the session, and
            # the next one is longer, until the consumer reports its partitions lost.
            lapsed_at = 0
            for attempt in range(3):
                mark = len(consumer.output())
                with frozen(consumer.proc.pid):
                    time.sleep(FREEZE_SECONDS + 5 * attempt)
                freezes.append(FREEZE_SECONDS + 5 * attempt)
                try:
                    wait_until(
                        functools.partial(reported_since, consumer, mark, LOST),
                        10,
                        "the consumer to report its partitions lost",
                        [consumer],
                    )
                except AssertionError:
                    continue
                lapsed_at = mark
                break
            else:
                pytest.fail(f"{len(freezes)} freezes ({freezes} s) never made the session lapse")

            def assigned_after_lost() -> bool:
                text = consumer.output()[lapsed_at:]
                return ASSIGNED in text[text.index(LOST) :]

            rejoined = wait_until(
                assigned_after_lost,
                30,
                "the consumer to be assigned its partitions again",
                [consumer],
            )
            members_after = set(probe.members())
            assert RECOVERED not in consumer.output(), "it was not waiting any more"
            assert probe.committed() == committed_at_stop, "committed while nothing was saved"
            pg.start()

        recovered = wait_until(all_done(probe, ends), 120, "every offset committed", [consumer])
        code, _ = consumer.stop(signal.SIGTERM)
    probe.close()

    result = audit(clean_database, topic, group, partitions, workload, commits)
    figures.record(
        **result.figures(),
        outage_s=pg.seconds,
        freezes_s="+".join(f"{f:.0f}" for f in freezes),
        rejoined_s=rejoined,
        retries=retries(consumer),
        done_after_pg_back_s=recovered,
    )
    assert result.problems == []
    assert members_after.isdisjoint(members_before), "the group never dropped the member"
    assert code == 0
