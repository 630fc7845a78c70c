"""A rolling restart of three consumers under load, as a Deployment's rollout does it: each
in turn gets SIGTERM (it finishes its batch, commits, leaves the group), and its successor
starts before the next one goes. The partitions move at every step; nothing is lost,
nothing doubled, no commit runs ahead of the work, and each instance exits 0.
"""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable

import pytest

from tests.faults.harness.audit import CommitWatch, audit, saved_count
from tests.faults.harness.kafka import KafkaProbe, all_done, new_topic
from tests.faults.harness.measures import Figures
from tests.faults.harness.workload import Publishing, Workload
from tests.support import ServiceProcess, Spawn, service_env, wait_until

pytestmark = pytest.mark.cluster

ORDERS = 10_000
PARTITIONS = 6


def _holds(process: ServiceProcess) -> bool:
    """The process says it was assigned partitions."""
    return "assigned [(" in process.output()


def _progress(database: str) -> Callable[[], bool]:
    """True once 1,000 more orders are saved than now."""
    goal = saved_count(database) + 1_000
    return lambda: saved_count(database) > goal


def test_a_rolling_restart_of_three_consumers_under_load_loses_and_doubles_nothing(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    topic = new_topic(PARTITIONS)
    group = f"group-{topic}"
    env = service_env(clean_database, topic, batch_size=200)
    # Each step costs two cooperative rebalances, 3 to 10 s each on a cluster whose
    # coordinators have just moved: a reserve for 75 s of publishing.
    reserve = Workload.generate(6 * ORDERS, seed=6001, invalid_ratio=0.05)
    probe = KafkaProbe(topic, group, PARTITIONS)

    rolled = threading.Event()
    with CommitWatch(topic, group, PARTITIONS) as commits:
        running: list[ServiceProcess] = [spawn("consume", env, f"consumer-{i}") for i in range(3)]
        # Ownership as each process says it (on a cluster whose coordinators have just moved,
        # the group's description can lag behind for minutes).
        wait_until(lambda: all(_holds(p) for p in running), 90, "three instances sharing", running)
        publishing = Publishing(
            topic,
            reserve,
            rate=800,
            at_least=ORDERS,
            until=rolled.is_set,
            awaited=lambda: "the rollout ended",
        )
        codes: list[int] = []
        steps: list[float] = []
        for step in range(3):
            wait_until(_progress(clean_database), 90, "progress", running)
            leaving = running.pop(0)
            successor = spawn("consume", env, f"consumer-{step + 3}")
            running.append(successor)
            wait_until(functools.partial(_holds, successor), 90, "the successor's share", running)
            code, seconds = leaving.stop(signal.SIGTERM)
            codes.append(code)
            steps.append(round(seconds, 2))
            wait_until(_progress(clean_database), 90, "saving after the step", running)
        rolled.set()
        publishing.join()
        workload = publishing.published
        wait_until(all_done(probe, probe.end_offsets()), 180, "every offset committed", running)
        codes += [p.stop(signal.SIGTERM)[0] for p in running]
    probe.close()

    result = audit(clean_database, topic, group, PARTITIONS, workload, commits)
    figures.record(
        **result.figures(),
        instances=6,
        sigterm_to_exit_s="/".join(map(str, steps)),
    )
    assert result.problems == []
    assert codes == [0] * 6
