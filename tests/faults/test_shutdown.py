"""Graceful shutdown on SIGINT and SIGTERM: the batch in hand is finished, what was saved is
committed, the group is left at once (another instance takes over well within the session
timeout), the pools are closed, and the exit code is 0."""

from __future__ import annotations

import signal
import threading
import time

import attrs
import pytest

from adapters.kafka.ingest.consumer import ConsumerSettings
from tests.faults.harness.audit import CommitWatch, audit, saved_count, saved_uids
from tests.faults.harness.kafka import KafkaProbe, all_done, new_topic, read_topic
from tests.faults.harness.measures import Figures
from tests.faults.harness.workload import Publishing, Workload
from tests.support import Spawn, service_env, wait_until

pytestmark = pytest.mark.faults

SESSION_TIMEOUT_S = int(str(attrs.fields(ConsumerSettings).session_timeout_ms.default)) / 1000
ORDERS = 10_000


def test_sigint_commits_what_was_saved_and_exits_0(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    partitions = 4
    topic = new_topic(partitions)
    group = f"group-{topic}"
    # Published at a pace the consumer keeps up with, and on until the first instance has
    # exited: the stop lands mid-run by construction, not because the ingest was slow.
    reserve = Workload.generate(2 * ORDERS, seed=606, invalid_ratio=0.05)
    env = service_env(clean_database, topic)
    probe = KafkaProbe(topic, group, partitions)
    first_gone = threading.Event()
    with CommitWatch(topic, group, partitions) as commits:
        first = spawn("consume", env, "consumer-1")
        publishing = Publishing(
            topic,
            reserve,
            rate=2_000,
            at_least=ORDERS,
            until=first_gone.is_set,
            awaited=lambda: "the first instance exited",
        )
        wait_until(lambda: saved_count(clean_database) >= 4_000, 60, "4,000 saved", [first])
        code, exit_s = first.stop(signal.SIGINT)
        first_gone.set()
        committed, stored = probe.committed(), saved_uids(clean_database)
        publishing.join()
        workload = publishing.published
        ends = probe.end_offsets()
        second = spawn("consume", env, "consumer-2")
        wait_until(all_done(probe, ends), 120, "every offset committed", [second])
        second.stop(signal.SIGTERM)
    probe.close()

    # Everything saved before the stop was committed: no stored order lies past the
    # committed offset of its partition (so nothing saved is read a second time).
    source = read_topic(topic, partitions)
    saved_past_commit = sum(
        1
        for (partition, offset), record in source.items()
        if offset >= committed[partition] and workload.valid_values.get(record.value) in stored
    )
    # No dead letter twice either: the second instance started exactly where the first ended.
    result = audit(clean_database, topic, group, partitions, workload, commits)
    output = first.output()
    figures.record(
        **result.figures(),
        exit_code=code,
        exit_s=exit_s,
        saved_at_stop=len(stored),
        saved_past_commit=saved_past_commit,
    )
    assert code == 0
    assert exit_s < 10.0
    assert 0 < len(stored) < result.valid, "the stop did not come mid-run"
    assert saved_past_commit == 0
    assert result.problems == []
    assert "consumer closed" in output
    assert "Traceback" not in output


def test_sigterm_hands_the_partitions_over_promptly(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    partitions = 4
    topic = new_topic(partitions)
    group = f"group-{topic}"
    # Published on until the handover is over, so that it happens under load.
    reserve = Workload.generate(2 * ORDERS, seed=707, invalid_ratio=0.05)
    env = service_env(clean_database, topic, batch_size=200)
    probe = KafkaProbe(topic, group, partitions)
    handed_over = threading.Event()

    with CommitWatch(topic, group, partitions) as commits:
        first = spawn("consume", env, "consumer-1")
        second = spawn("consume", env, "consumer-2")
        wait_until(
            lambda: len(held := probe.holders()) == 2 and all(held), 60, "two members sharing", []
        )
        shared = probe.holders()
        publishing = Publishing(
            topic,
            reserve,
            rate=2_000,
            at_least=ORDERS,
            until=handed_over.is_set,
            awaited=lambda: "the handover",
        )
        wait_until(lambda: saved_count(clean_database) >= 1_000, 60, "1,000 saved", [first])
        signalled = time.monotonic()
        first.send(signal.SIGTERM)
        handover = wait_until(
            lambda: probe.holders() == [set(range(partitions))],
            30,
            "one member holding all",
            [second],
        )
        code = first.wait(30)
        exited_by_s = time.monotonic() - signalled
        handed_over.set()
        publishing.join()
        workload = publishing.published
        ends = probe.end_offsets()
        wait_until(all_done(probe, ends), 120, "every offset committed", [second])
        second.stop(signal.SIGTERM)
    probe.close()

    result = audit(clean_database, topic, group, partitions, workload, commits)
    figures.record(
        **result.figures(),
        exit_code=code,
        exited_by_s=exited_by_s,
        handover_s=handover,
        session_timeout_s=SESSION_TIMEOUT_S,
    )
    assert [len(p) for p in shared] == [2, 2]
    assert code == 0
    assert handover < SESSION_TIMEOUT_S / 2, "the group waited for the session to expire"
    # The revoked partitions were committed on the way out: no dead letter was sent twice.
    assert result.problems == []
    assert "Traceback" not in first.output()
