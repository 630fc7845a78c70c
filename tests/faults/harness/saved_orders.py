"""The orders stored in PostgreSQL now: how many, and which."""

from __future__ import annotations

import psycopg


def saved_count(database_url: str) -> int:
    """Orders stored now, or -1 while the database cannot be reached."""
    try:
        with psycopg.connect(database_url, connect_timeout=2, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM orders").fetchone()
    except psycopg.OperationalError:
        return -1
    return int(row[0]) if row else 0


def saved_uids(database_url: str) -> set[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return {str(r[0]) for r in conn.execute("SELECT order_uid FROM orders")}
