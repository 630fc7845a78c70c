"""Versioned schema migrations: numbered SQL files applied once each, in order.

Several instances may start at once: an advisory lock makes them apply migrations one at
a time, and each migration runs in its own transaction with its version record.
"""

from __future__ import annotations

import logging
from datetime import datetime
from importlib import resources

import psycopg

from adapters.postgres.errors import translated

log = logging.getLogger(__name__)

_LOCK_KEY = 7_262_010  # any constant shared by all instances of this service


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
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, sql in available_migrations():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (version, name),
                    )
                log.info("applied migration %s", name)
                applied_now.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
