"""Connection pools for PostgreSQL: one for lookups, one for ingestion, never shared."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg_pool import ConnectionPool


def open_pool(
    conninfo: str,
    *,
    name: str,
    max_size: int = 10,
    timeout: float = 5.0,
    configure: Callable[[psycopg.Connection[tuple[object, ...]]], None] | None = None,
) -> ConnectionPool:
    """A pool that opens in the background: the service starts even when the database is
    down, and each request waits at most ``timeout`` for a connection."""
    pool = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        timeout=timeout,
        open=False,
        name=name,
        configure=configure,
        # Autocommit: a lookup is one round trip, not BEGIN, SELECT, COMMIT; saves run in
        # the explicit transaction of conn.transaction().
        kwargs={
            "connect_timeout": 3,
            # Documents go in and out as UTF-8 bytes, whatever the server's or the
            # environment's (PGCLIENTENCODING) default.
            "client_encoding": "UTF8",
            "application_name": f"order-service {name}",
            "autocommit": True,
        },
        # Drop a failed background connection attempt at once rather than retry it for
        # minutes: each request asks for a new one, so the pool reconnects as soon as the
        # server answers again (within one pool timeout).
        reconnect_timeout=0,
    )
    pool.open(wait=False)
    return pool
