"""Versioned schema migrations: numbered SQL files applied once each, in order.

Several instances may start at once: each migration runs in its own transaction with its
version record, under a transaction-scoped advisory lock, so they apply migrations one at a
time. The lock is the transaction's (``pg_advisory_xact_lock``), never the session's: behind
a transaction pooler (PgBouncer), a session lock would stay on a server connection that
others go on using, and its unlock could run on another one. Every wait is bounded: the
lock by ``LOCK_WAIT`` (another instance may be migrating), the migration's own locks on the
tables by ``lock_timeout`` (a long transaction holding them must not make every query queue
behind the migration). A migration's statements have no time limit: building an index on a
large table takes what it takes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from typing import Any

import psycopg

from adapters.postgres.errors import translated

log = logging.getLogger(__name__)

_LOCK_KEY = 7_262_010  # any constant shared by all instances of this service
LOCK_WAIT = 120.0  # seconds to wait for another instance's migration
TABLE_LOCK_TIMEOUT = 10.0  # seconds a migration waits for a lock on a table


def available_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every file in the migrations folder, sorted by version."""
    folder = resources.files("adapters.postgres") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migration_status(conninfo: str) -> list[tuple[str, datetime | None]]:
    """Every migration this version has, with when it was applied (None: not yet), read
    without the lock: what ``migrate`` would do now. Raises RepositoryUnavailable and
    RepositoryFailed like ``migrate``."""
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
            rows = (
                conn.execute("SELECT version, applied_at FROM schema_migrations").fetchall()
                if exists and exists[0]
                else []
            )
    except psycopg.Error as exc:
        raise translated(exc) from exc
    applied = {int(version): at for version, at in rows}
    return [(name, applied.get(version)) for version, name, _ in available_migrations()]


def migrate(conninfo: str) -> list[str]:
    """Apply the migrations not applied yet; return the names of those applied now.

    Raises RepositoryUnavailable when the server cannot be reached, RepositoryFailed when a
    migration fails.
    """
    try:
        return _migrate(conninfo)
    except psycopg.Error as exc:
        raise translated(exc) from exc


def _migrate(conninfo: str) -> list[str]:
    applied_now: list[str] = []
    with psycopg.connect(conninfo, autocommit=True, prepare_threshold=None) as conn:
        with _locked(conn):
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
        for version, name, sql in available_migrations():
            with _locked(conn):
                done = conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (version,)
                ).fetchone()
                if done:  # before, or by another instance while this one waited
                    continue
                conn.execute(sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (version, name),
                )
            log.info("applied migration %s", name)
            applied_now.append(name)
    return applied_now


@contextmanager
def _locked(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """A transaction holding the migrations' lock, its waits bounded."""
    with conn.transaction():
        conn.execute(f"SET LOCAL lock_timeout = {round(LOCK_WAIT * 1000)}")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(f"SET LOCAL lock_timeout = {round(TABLE_LOCK_TIMEOUT * 1000)}")
        yield
