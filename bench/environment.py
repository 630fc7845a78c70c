"""Where the benchmarks' servers are and the throwaway state each measurement keeps on them,
with the two things every part of the bench shares: the progress line and the error of a
disturbed measurement.

The addresses of PostgreSQL, Kafka, Memcached and Redis come from the same environment
variables as the integration tests, so one setting points both elsewhere; ``servers`` says
where they were for the results. ``ROOT`` is the repository's top directory.

Each measurement gets a database of its own (``bench_`` and a random suffix, created and
migrated, then dropped) on the server of ``ADMIN_URL``, so that runs neither share rows nor
leave any behind. Each run publishes to a Kafka topic of its own (with its dead-letter
topic) and consumes with new group ids; the topics are deleted after their phase and the
groups at the end.

``Disturbed`` is what a measurement raises when a server went away meanwhile, so that the
run repeats it. ``say`` writes a progress line to stderr and flushes it at once, so that it
shows while a phase runs and stdout holds the results alone.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from pathlib import Path

import psycopg
from confluent_kafka.admin import AdminClient

from adapters.kafka.client.topics import ensure_topics
from adapters.postgres.migrations import migrate

# The same variables as tests/integration/conftest.py, so one setting points both elsewhere.
ADMIN_URL = os.environ.get(
    "ORDER_SERVICE_TEST_DATABASE_URL", "postgresql://orders:orders@127.0.0.1:5432/orders"
)
KAFKA = os.environ.get("ORDER_SERVICE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
MEMCACHED = os.environ.get("ORDER_SERVICE_MEMCACHED_SERVERS", "127.0.0.1:11211")
REDIS = os.environ.get("ORDER_SERVICE_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent


class Disturbed(RuntimeError):
    """A server went away during a measurement: the figure is void, the run is repeated."""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def servers() -> str:
    """Where the servers were (host:port only: the database URL may hold a password)."""
    pg = psycopg.conninfo.conninfo_to_dict(ADMIN_URL)
    redis = REDIS.split("@")[-1].removeprefix("redis://")
    return (
        f"PostgreSQL {pg.get('host', 'localhost')}:{pg.get('port', 5432)}, Kafka {KAFKA}, "
        f"Memcached {MEMCACHED}, Redis {redis}"
    )


def _database_url(name: str) -> str:
    return psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name)


def create_database() -> str:
    """A new, migrated database; returns its URL. Drop it with ``drop_database``."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _database_url(name)
    migrate(url)
    return url


def drop_database(url: str) -> None:
    """Drop a database of ours, ending its sessions.

    WITH (FORCE) refuses when an autovacuum worker happens to be in the database (it has
    no role we may signal); a plain DROP cancels autovacuum itself, so it is tried next,
    a few times while sessions are closing.
    """
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        try:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.errors.InsufficientPrivilege:
            pass
        for attempt in range(10):
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except psycopg.errors.ObjectInUse:
                if attempt == 9:
                    raise
                time.sleep(1)


PARTITIONS = 4  # the service's default for the orders topic


def create_topic(partitions: int = PARTITIONS) -> str:
    """A new orders topic (and its dead-letter topic) unique to this benchmark run."""
    name = f"orders-bench-{uuid.uuid4().hex[:10]}"
    ensure_topics(KAFKA, {name: partitions, f"{name}.dlq": 1})
    return name


def delete_topic(name: str) -> None:
    admin = AdminClient({"bootstrap.servers": KAFKA})
    for future in admin.delete_topics([name, f"{name}.dlq"], operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


_GROUPS: list[str] = []


def new_group(kind: str) -> str:
    """A new consumer group id, deleted by ``delete_groups`` at the end of the run."""
    name = f"bench-{kind}-{uuid.uuid4().hex[:10]}"
    _GROUPS.append(name)
    return name


def delete_groups() -> None:
    """Delete the consumer groups of this run (their members have all left by then)."""
    if not _GROUPS:
        return
    admin = AdminClient({"bootstrap.servers": KAFKA})
    for future in admin.delete_consumer_groups(list(_GROUPS), request_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)
    _GROUPS.clear()
