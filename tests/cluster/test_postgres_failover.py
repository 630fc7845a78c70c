"""PostgreSQL fails over under Patroni mid-flood, the way production does: the primary's
host dies (its Patroni and its PostgreSQL, the whole process tree, killed) or is cut off
(every process of it stopped, its sockets open and silent). Patroni's lease expires, the
synchronous standby (which holds every acknowledged commit) is promoted, and the service,
given both hosts with ``target_session_attrs=read-write``, finds the new primary by itself:

- the consumer saves again on the new primary; nothing lost, nothing doubled, no commit
  ahead of the work (a save in flight at the cut is retried; stored once);
- lookups of orders in the cache answer throughout; lookups that need PostgreSQL answer
  503 during the failover and 200 from the new primary after;
- the old primary, started again (or let go), rejoins as a standby.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Sequence

import httpx
import pytest

from local_services.patroni import PatroniNode
from tests.cluster import nodes
from tests.faults.harness.audit import CommitWatch, audit, saved_count, saved_uids
from tests.faults.harness.kafka import KafkaProbe, all_done, new_topic
from tests.faults.harness.measures import Figures, HttpLoad, Sample
from tests.faults.harness.workload import Publishing, Workload
from tests.support import ServiceProcess, Spawn, free_port, http_up, service_env, wait_until

pytestmark = pytest.mark.cluster

ORDERS = 10_000
PARTITIONS = 4
# Short bounds, so that a save on a silent host is given up soon (the defaults are 30 s
# and 15 s: production's choice, slower to notice).
BOUNDS = {"db_statement_timeout": 5, "db_tcp_timeout": 5}


@pytest.mark.parametrize("fault", ["host killed", "host cut off"])
def test_a_failover_mid_flood_loses_nothing_and_lookups_find_the_new_primary(
    fault: str, clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    topic = new_topic(PARTITIONS)
    group = f"group-{topic}"
    reserve = Workload.generate(3 * ORDERS, seed=3001, invalid_ratio=0.05)
    consumer = spawn("consume", service_env(clean_database, topic, **BOUNDS), "consumer")
    port = free_port()
    env = service_env(clean_database, topic, http_port=port, **BOUNDS)
    web = spawn("http", env, "http")
    wait_until(http_up(f"http://127.0.0.1:{port}/healthz"), 60, "the http process", [web])
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    promoted = threading.Event()
    with CommitWatch(topic, group, PARTITIONS) as commits:
        publishing = Publishing(
            topic,
            reserve,
            rate=1_000,
            at_least=ORDERS,
            until=promoted.is_set,
            awaited=lambda: "the standby was promoted and took saves",
        )
        wait_until(lambda: saved_count(clean_database) >= 2_000, 90, "2,000 saved", [consumer])
        stored = sorted(saved_uids(clean_database))
        cached, uncached = stored[:300], stored[300:]
        for uid in cached:  # into the http process's cache
            assert http.get("/order", params={"id": uid}).status_code == 200
        hits = HttpLoad(port, lambda rng: f"/order?id={rng.choice(cached)}", 4, pause=0.01)
        # Each id once (a second lookup would be a hit), until they run out.
        misses = HttpLoad(port, lambda _: f"/order?id={_next(uncached, cached)}", 2, pause=0.05)
        old = nodes.pg_cluster().leader()
        assert old is not None
        host = nodes.pg_processes(old)
        assert len(host) == 2, "its Patroni and its postmaster"
        standby = nodes.pg_node(3 - old.node)
        started = time.monotonic()
        if fault == "host killed":
            nodes.kill_node(*host)
            failover = _wait_promoted(standby, consumer)
        else:
            with nodes.frozen_node(*host):
                failover = _wait_promoted(standby, consumer)
        saved_then = saved_count(clean_database)
        saving = wait_until(
            lambda: saved_count(clean_database) > saved_then + 500,
            120,
            "saving on the new primary",
            [consumer],
        )
        promoted.set()
        through = time.monotonic()
        wait_until(
            lambda: _answered(misses.samples, after=through), 60, "lookups from the new primary"
        )
        hits.stop()
        misses.stop()
        rejoined = nodes.start("pg-cluster")  # the old primary starts again (or was let go)
        old_role = old.role()
        publishing.join()
        workload = publishing.published
        probe = KafkaProbe(topic, group, PARTITIONS)
        try:
            wait_until(
                all_done(probe, probe.end_offsets()), 180, "every offset committed", [consumer]
            )
        finally:
            probe.close()
    codes = [consumer.stop(signal.SIGTERM)[0], web.stop(signal.SIGTERM)[0]]
    http.close()

    result = audit(clean_database, topic, group, PARTITIONS, workload, commits)
    during = [s for s in misses.samples if started <= s.started < through]
    gap = _longest_failing(misses.samples)
    figures.record(
        **result.figures(),
        fault=fault.replace(" ", "_"),
        old_primary=old.name,
        promoted_after_s=failover,
        saving_again_s=saving + failover,
        hit_requests=len(hits.samples),
        hit_failures=sum(s.status != 200 for s in hits.samples),
        miss_statuses=_statuses(during),
        lookups_failing_s=round(gap, 3),
        old_primary_back_as=old_role,
        rejoined_s=rejoined,
    )
    assert result.problems == []
    assert codes == [0, 0]
    # Lookups of cached orders never needed PostgreSQL: every one answered.
    assert {s.status for s in hits.samples} == {200}
    # Lookups that needed it failed only as unavailable (503), never as not found or 500.
    assert {s.status for s in misses.samples} <= {200, 503}
    assert old_role == "replica"


def _next(uncached: list[str], cached: list[str]) -> str:
    return uncached.pop() if uncached else cached[0]


def _wait_promoted(standby: PatroniNode, watched: ServiceProcess) -> float:
    return wait_until(lambda: standby.role() == "primary", 90, "the standby promoted", [watched])


def _answered(samples: Sequence[Sample], after: float) -> bool:
    return any(s.status == 200 and s.started >= after for s in list(samples))


def _longest_failing(samples: Sequence[Sample]) -> float:
    """The longest stretch of requests that all failed, in seconds."""
    longest, first_failed = 0.0, None
    for sample in sorted(samples, key=lambda s: s.started):
        if sample.status == 200:
            if first_failed is not None:
                longest = max(longest, sample.started - first_failed)
            first_failed = None
        elif first_failed is None:
            first_failed = sample.started
    return longest


def _statuses(samples: Sequence[Sample]) -> str:
    counts: dict[int, int] = {}
    for sample in samples:
        counts[sample.status] = counts.get(sample.status, 0) + 1
    return "/".join(f"{status}x{n}" for status, n in sorted(counts.items()))
