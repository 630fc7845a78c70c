"""Several instances in one group share the partitions; instances joining and leaving
mid-run (cooperative-sticky rebalances, commit on revoke) lose and double nothing."""

from __future__ import annotations

import signal
import threading

import pytest

from tests.faults.harness.audit import CommitWatch, audit, saved_count
from tests.faults.harness.kafka import KafkaProbe, all_done, new_topic
from tests.faults.harness.measures import Figures
from tests.faults.harness.workload import Publishing, Workload
from tests.support import Spawn, service_env, wait_until

pytestmark = pytest.mark.faults

ORDERS = 10_000


def test_instances_joining_and_leaving_mid_run_lose_and_double_nothing(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    partitions = 6
    topic = new_topic(partitions)
    group = f"group-{topic}"
    # ~12 s of traffic, and on until the instance that leaves has left: the joining and the
    # leaving both happen while work keeps arriving, however fast the ingest.
    reserve = Workload.generate(2 * ORDERS, seed=808, invalid_ratio=0.05)
    env = service_env(clean_database, topic, batch_size=200)
    probe = KafkaProbe(topic, group, partitions)
    sizes: list[list[int]] = []
    left = threading.Event()

    def spread(members: int) -> bool:
        held = sorted(len(p) for p in probe.holders())
        if held:
            sizes.append(held)
        return len(held) == members and sum(held) == partitions and min(held) > 0

    with CommitWatch(topic, group, partitions) as commits:
        a = spawn("consume", env, "consumer-a")
        b = spawn("consume", env, "consumer-b")
        wait_until(lambda: spread(2), 60, "two instances sharing", [a, b])
        publishing = Publishing(
            topic,
            reserve,
            rate=800,
            at_least=ORDERS,
            until=left.is_set,
            awaited=lambda: "the third instance joined and the second left",
        )
        wait_until(lambda: saved_count(clean_database) >= 2_500, 60, "2,500 saved", [a, b])
        c = spawn("consume", env, "consumer-c")  # joins mid-run
        wait_until(lambda: spread(3), 60, "three instances sharing", [a, b, c])
        three_way = sizes[-1]
        wait_until(lambda: saved_count(clean_database) >= 6_000, 60, "6,000 saved", [a, c])
        code_b, _ = b.stop(signal.SIGTERM)  # leaves mid-run
        wait_until(lambda: spread(2), 60, "two instances again", [a, c])
        left.set()
        publishing.join()
        workload = publishing.published
        ends = probe.end_offsets()
        wait_until(all_done(probe, ends), 120, "every offset committed", [a, c])
        codes = [code_b, a.stop(signal.SIGTERM)[0], c.stop(signal.SIGTERM)[0]]
    probe.close()

    # Dead letters are a witness of re-processing: a batch handled twice would send its
    # invalid messages twice. With commit on revoke, none is.
    result = audit(clean_database, topic, group, partitions, workload, commits)
    figures.record(
        **result.figures(),
        instances=3,
        three_way_split="/".join(map(str, three_way)),
        splits=">".join(
            "/".join(map(str, s)) for i, s in enumerate(sizes) if i == 0 or s != sizes[i - 1]
        ),
    )
    assert three_way == [2, 2, 2]
    assert codes == [0, 0, 0]
    assert result.problems == []
