"""Fresh PostgreSQL databases for the benchmarks: created and migrated, then dropped.

Each measurement gets a database of its own (``bench_`` and a random suffix) on the server
of ``ADMIN_URL``, so that runs neither share rows nor leave any behind.
"""

from __future__ import annotations

import time
import uuid

import psycopg

from adapters.postgres.migrations import migrate
from bench.environment import ADMIN_URL


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
