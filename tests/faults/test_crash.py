"""A consumer process killed with SIGKILL mid-batch: on restart the uncommitted messages are
read again, and PostgreSQL still holds every order exactly once."""

from __future__ import annotations

import signal
import time

import psycopg
import pytest

from tests.faults.harness.audit import CommitWatch, audit, saved_count, saved_uids
from tests.faults.harness.kafka import KafkaProbe, all_done, new_topic, read_topic
from tests.faults.harness.measures import Figures
from tests.faults.harness.servers import SilentServer
from tests.faults.harness.workload import Workload, publish
from tests.support import Spawn, service_env, wait_until


def cache_env(backend: str, servers: str) -> dict[str, str]:
    return {"ORDER_SERVICE_CACHE_BACKEND": backend, "ORDER_SERVICE_MEMCACHED_SERVERS": servers}


pytestmark = pytest.mark.faults


def _batch_waits_on_lock(database_url: str) -> bool:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'order-service%'"
            " AND datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return bool(row and row[0])


def test_sigkill_mid_batch_rereads_what_was_not_committed(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    partitions = 4
    topic = new_topic(partitions)
    group = f"group-{topic}"
    workload = Workload.generate(10_000, seed=505, invalid_ratio=0.05)
    env = service_env(clean_database, topic)
    publish(topic, workload)
    source = read_topic(topic, partitions)
    probe = KafkaProbe(topic, group, partitions)
    ends = probe.end_offsets()

    def saved_but_uncommitted() -> int:
        """Valid messages past the committed offsets whose order is already stored."""
        committed, stored = probe.committed(), saved_uids(clean_database)
        return sum(
            1
            for (partition, offset), record in source.items()
            if offset >= committed[partition] and workload.valid_values.get(record.value) in stored
        )

    with CommitWatch(topic, group, partitions) as commits:
        first = spawn("consume", env, "consumer-1")
        wait_until(lambda: saved_count(clean_database) >= 2_500, 60, "2,500 saved", [first])
        # Kill 1: a batch is inside its database transaction (held there by a table lock).
        with psycopg.connect(clean_database) as lock:
            lock.execute("LOCK TABLE orders IN EXCLUSIVE MODE")
            before_kill = saved_count(clean_database)
            wait_until(lambda: _batch_waits_on_lock(clean_database), 30, "a batch mid-transaction")
            first.kill()
            lock.rollback()
        time.sleep(0.5)
        # The killed batch's transaction never committed: not one of its orders is stored.
        assert saved_count(clean_database) == before_kill
        rereads = [saved_but_uncommitted()]

        # Kill 2: after the database commit, before the offset commit. This instance's cache
        # hangs, and it writes to the cache only after a database commit: the moment a
        # request reaches the hung cache, the instance is frozen right in that window
        # (checked: saved orders past the committed offsets), then killed.
        with SilentServer() as hung_cache:
            second = spawn(
                "consume",
                {**env, **cache_env("memcached", hung_cache.address)},
                "consumer-2",
            )
            restarted = time.monotonic()
            resumed_after = 0.0
            deadline = restarted + 60
            while True:
                assert time.monotonic() < deadline, (
                    f"in 60 s the consumer was never caught between saving and committing "
                    f"({hung_cache.requests} cache requests)"
                )
                assert second.alive, second.output()[-3000:]
                if not hung_cache.wait_for_request(timeout=1.0):
                    continue
                second.send(signal.SIGSTOP)  # within a moment of its request: still waiting
                resumed_after = resumed_after or time.monotonic() - restarted
                if (found := saved_but_uncommitted()) > 0:
                    second.kill()
                    rereads.append(found)
                    break
                second.send(signal.SIGCONT)  # an idle repair, not a batch: wait for the next
            assert saved_count(clean_database) > before_kill  # it had saved again

        third = spawn("consume", env, "consumer-3")
        wait_until(all_done(probe, ends), 120, "every offset committed", [third])
        code, _ = third.stop(signal.SIGTERM)
    probe.close()

    # Dead letters are at least once: a batch killed after its dead-letter produce and
    # before its commit sends them again. Orders are exactly once.
    result = audit(
        clean_database, topic, group, partitions, workload, commits, allow_dlq_duplicates=True
    )
    figures.record(
        **result.figures(),
        kills=2,
        saved_uncommitted_at_kills="/".join(map(str, rereads)),
        recover_s=resumed_after,
    )
    assert result.problems == []
    assert rereads[1] > 0  # those were stored, not committed, and read again after the crash
    assert code == 0
