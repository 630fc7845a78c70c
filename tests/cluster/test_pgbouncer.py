"""All of the service's traffic through PgBouncer 1.18 (Debian's) in transaction mode, where
a server session serves whichever client's transaction comes next: so no session state may
be relied on. Prepared statements are off (``db_prepared_statements=false``: 1.18 cannot
track them), settings are ``SET LOCAL``, the migration lock is the transaction's.

Two consumers start at once on a new database and migrate it at once through the pooler;
a flood goes in; one consumer is SIGKILLed mid-flood and replaced; lookups that each read
PostgreSQL go through the pooler meanwhile. Nothing lost, nothing doubled, every lookup
answered, every migration applied once, no advisory lock left behind.
"""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from adapters.postgres.migrations import available_migrations
from tests.cluster import nodes
from tests.faults.harness.audit import CommitWatch, audit, saved_count, saved_uids
from tests.faults.harness.kafka import KafkaProbe, all_done, new_topic
from tests.faults.harness.measures import Figures, HttpLoad
from tests.faults.harness.workload import Publishing, Workload
from tests.support import ADMIN_URL, Spawn, free_port, http_up, service_env, wait_until

pytestmark = pytest.mark.cluster

ORDERS = 10_000
PARTITIONS = 6


@contextmanager
def new_database() -> Iterator[tuple[str, str]]:
    """A database of its own, not migrated: (its direct URL, its URL through PgBouncer)."""
    name = f"pooled_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield (
            psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name),
            psycopg.conninfo.make_conninfo(nodes.PGBOUNCER, dbname=name),
        )
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def _pgbouncer_in_front_of_the_primary() -> None:
    """PgBouncer points at the primary found when it started: after a failover (another
    test's), it is restarted to follow, as an operator's hook would."""
    leader = nodes.pg_cluster().leader()
    assert leader is not None
    if f"port={leader.port}" not in nodes.pgbouncer().ini.read_text():
        nodes.services_sh("restart", "pgbouncer")


def test_through_pgbouncer_a_flood_with_a_consumer_killed_loses_nothing(
    spawn: Spawn, figures: Figures
) -> None:
    _pgbouncer_in_front_of_the_primary()
    with new_database() as (direct, pooled):
        topic = new_topic(PARTITIONS)
        group = f"group-{topic}"
        env = service_env(pooled, topic, db_prepared_statements="false", batch_size=200)
        # Both migrate the new database at once, through the pooler.
        a, b = spawn("consume", env, "consumer-a"), spawn("consume", env, "consumer-b")
        port = free_port()
        web_env = service_env(pooled, topic, http_port=port, db_prepared_statements="false")
        web = spawn("http", web_env, "http")
        wait_until(http_up(f"http://127.0.0.1:{port}/healthz"), 60, "the http process", [web])
        reserve = Workload.generate(3 * ORDERS, seed=4001, invalid_ratio=0.05)
        replaced = threading.Event()
        with CommitWatch(topic, group, PARTITIONS) as commits:
            publishing = Publishing(
                topic,
                reserve,
                rate=1_200,
                at_least=ORDERS,
                until=replaced.is_set,
                awaited=lambda: "the killed consumer was replaced",
            )
            wait_until(lambda: saved_count(direct) >= 3_000, 90, "3,000 saved", [a, b])
            stored = sorted(saved_uids(direct))
            # Each id once: every lookup is a cache miss, read through the pooler.
            lookups = HttpLoad(port, lambda _: f"/order?id={stored.pop() if stored else 'x'}", 4)
            a.kill()
            killed_at = saved_count(direct)
            replacement = spawn("consume", env, "consumer-a2")
            wait_until(
                lambda: saved_count(direct) > killed_at + 2_000,
                120,
                "saving to go on",
                [b, replacement],
            )
            replaced.set()
            publishing.join()
            workload = publishing.published
            lookups.stop()
            probe = KafkaProbe(topic, group, PARTITIONS)
            try:
                done = all_done(probe, probe.end_offsets())
                wait_until(done, 180, "every offset committed", [b, replacement])
            finally:
                probe.close()
        codes = [p.stop(signal.SIGTERM)[0] for p in (b, replacement, web)]
        result = audit(direct, topic, group, PARTITIONS, workload, commits)
        with psycopg.connect(direct, autocommit=True) as conn:
            versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
            locks = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
            advisory = locks.fetchone()
    statuses = sorted({s.status for s in lookups.samples})
    figures.record(
        **result.figures(),
        lookups=len(lookups.samples),
        lookup_statuses="/".join(map(str, statuses)),
        saved_at_kill=killed_at,
    )
    assert result.problems == []
    assert codes == [0, 0, 0]
    assert sorted(versions) == [v for v, _, _ in available_migrations()]
    assert advisory == (0,)
    assert len(lookups.samples) > 500
    assert statuses in ([200], [200, 404]), statuses  # 404: the ids ran out ('x')
