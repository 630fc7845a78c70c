"""The order repository on PostgreSQL.

A batch is saved in one transaction with binary COPY, the fastest way into PostgreSQL.
The orders are copied straight into ``orders``; if that meets an order already stored (a
replay), they go instead through a session-local staging table and on into ``orders``
with ``ON CONFLICT DO NOTHING RETURNING order_uid`` (idempotent). Then the deliveries,
payments and items of the orders that were new are copied into their tables. Every
database error is translated by its SQLSTATE (``errors.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from adapters.postgres.copy import copy_rows, prepare_ingest_connection
from adapters.postgres.errors import outcome_of, translated
from adapters.postgres.pool import open_pool
from adapters.postgres.rows import (
    DELIVERY_COLUMNS,
    ITEM_COLUMNS,
    ORDER_COLUMNS,
    PAYMENT_COLUMNS,
    Row,
    column_list,
    delivery_row,
    item_rows,
    order_row,
    payment_row,
)
from adapters.postgres.single_value import KeyQuery
from order_core.errors import RepositoryUnavailable
from order_core.ports import EncodedOrder, SavedDocument

T = TypeVar("T")
__all__ = ["PostgresOrderRepository"]

STAGING_TABLE = "orders_incoming"
PING_TIMEOUT = 1.0
# The consumer's saves wait this long for a connection: while PostgreSQL is down each retry
# blocks the loop (which does not poll meanwhile) for this, not for the lookups' timeout.
INGEST_POOL_TIMEOUT = 2.0
# A json column keeps the document's text as sent: these are the stored bytes. As text,
# the result's type stays the same whatever a migration makes of the column.
_FIND_DOCUMENT = KeyQuery(
    b"order_service_find_document", b"SELECT document::text FROM orders WHERE order_uid = $1"
)
_CREATE_STAGING = f"""
CREATE TEMP TABLE IF NOT EXISTS {STAGING_TABLE} (
    {", ".join(f"{name} {kind}" for name, kind in ORDER_COLUMNS)}
) ON COMMIT DELETE ROWS
"""
# Built from constants only (no input reaches it).
_MOVE_NEW_ORDERS = f"""
INSERT INTO orders ({column_list(ORDER_COLUMNS)})
SELECT {column_list(ORDER_COLUMNS)} FROM {STAGING_TABLE}
ON CONFLICT (order_uid) DO NOTHING
RETURNING order_uid
"""  # noqa: S608
# Keyset page on the (customer_id, seq DESC) index: a range scan however deep the page.
# The missing bound is bigint's top, not "IS NULL OR": that would defeat the index.
CUSTOMER_PAGE_QUERY = """
SELECT seq, document::text FROM orders
WHERE customer_id = %(customer)s AND seq < coalesce(%(before)s::bigint, 9223372036854775807)
ORDER BY seq DESC LIMIT %(size)s
"""


class PostgresOrderRepository:
    """Implements order_core.ports.OrderRepository.

    ``pool`` serves reads; ``ingest_pool`` (connections prepared by
    ``prepare_ingest_connection``) serves ``save_many``: lookups and the consumer never
    wait for each other's connections.
    """

    def __init__(self, pool: ConnectionPool, ingest_pool: ConnectionPool | None = None) -> None:
        self._pool = pool
        self._ingest_pool = ingest_pool

    @classmethod
    def open(
        cls, conninfo: str, *, pool_size: int, ingest_pool_size: int = 2, timeout: float = 5.0
    ) -> PostgresOrderRepository:
        """A repository with its two pools, connecting in the background."""
        return cls(
            open_pool(conninfo, name="lookups", max_size=pool_size, timeout=timeout),
            open_pool(
                conninfo,
                name="ingest",
                max_size=ingest_pool_size,
                timeout=min(timeout, INGEST_POOL_TIMEOUT),
                configure=prepare_ingest_connection,
            ),
        )

    def close(self) -> None:
        for pool in (self._pool, self._ingest_pool):
            if pool is not None:
                pool.close()

    def save_many(self, orders: Sequence[EncodedOrder]) -> set[str]:
        if not orders:
            return set()
        # Retried at once on a dead pooled connection: the save is idempotent.
        return self._run(functools.partial(self._save, orders), retry=True)

    def get_document(self, order_uid: str) -> bytes | None:
        def read() -> bytes | None:
            with self._pool.connection() as conn:
                return _FIND_DOCUMENT.fetch_value(conn, order_uid)

        return self._run(read, retry=True)

    def recent_documents(self, limit: int, batch_size: int) -> Iterator[dict[str, bytes]]:
        before: int | None = None
        remaining = limit
        while remaining > 0:
            size = min(batch_size, remaining)
            rows = self._run(functools.partial(self._recent_page, before, size), retry=True)
            if not rows:
                return
            yield {uid: doc.encode() for _, uid, doc in rows}
            before = rows[-1][0]
            remaining -= len(rows)

    def customer_documents(
        self, customer_id: str, limit: int, before: int | None = None
    ) -> list[SavedDocument]:
        def read() -> list[SavedDocument]:
            with self._pool.connection() as conn:
                params = {"customer": customer_id, "before": before, "size": limit}
                rows = conn.execute(CUSTOMER_PAGE_QUERY, params).fetchall()
            return [SavedDocument(int(seq), str(doc).encode()) for seq, doc in rows]

        return self._run(read, retry=True)

    def count(self) -> int:
        """How many orders are stored (for tests and operators)."""

        def read() -> int:
            with self._pool.connection() as conn:
                row = conn.execute("SELECT count(*) FROM orders").fetchone()
            return int(row[0]) if row else 0

        return self._run(read, retry=True)

    def ping(self) -> None:
        """Raise RepositoryUnavailable unless a query goes through now (within a second:
        a readiness probe must answer before its own timeout, with the reason)."""

        def check() -> None:
            with self._pool.connection(timeout=PING_TIMEOUT) as conn:
                conn.execute("SELECT 1")

        self._run(check, retry=False)

    def _recent_page(self, before: int | None, size: int) -> list[tuple[int, str, str]]:
        with self._pool.connection() as conn:
            cur = conn.execute(
                "SELECT seq, order_uid, document::text FROM orders"
                " WHERE %(before)s::bigint IS NULL OR seq < %(before)s"
                " ORDER BY seq DESC LIMIT %(size)s",
                {"before": before, "size": size},
            )
            return [(int(r[0]), str(r[1]), str(r[2])) for r in cur.fetchall()]

    def _save(self, orders: Sequence[EncodedOrder]) -> set[str]:
        pool = self._ingest_pool
        if pool is None:
            raise AssertionError("this repository was built without an ingest pool")
        with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            inserted = self._insert_orders(conn, cur, [order_row(e) for e in orders])
            if not inserted:
                return inserted
            new = [e.order for e in orders if e.order_uid in inserted]
            copy_rows(cur, "deliveries", DELIVERY_COLUMNS, [delivery_row(o) for o in new])
            copy_rows(cur, "payments", PAYMENT_COLUMNS, [payment_row(o) for o in new])
            items = [row for o in new for row in item_rows(o)]
            copy_rows(cur, "items", ITEM_COLUMNS, items)
        return inserted

    @staticmethod
    def _insert_orders(
        conn: psycopg.Connection[Any], cur: psycopg.Cursor[Any], rows: list[Row]
    ) -> set[str]:
        """Insert the order rows; return the order_uids that were new.

        Most batches hold only new orders: they are copied straight in. A batch with an
        order already stored (a replay after a crash, a repeat) fails that copy at its
        savepoint and goes through the staging table and ``ON CONFLICT DO NOTHING``.
        """
        try:
            with conn.transaction():  # a savepoint
                copy_rows(cur, "orders", ORDER_COLUMNS, rows)
            return {str(row[0]) for row in rows}
        except psycopg.errors.UniqueViolation:
            pass
        cur.execute(_CREATE_STAGING)
        copy_rows(cur, STAGING_TABLE, ORDER_COLUMNS, rows)
        cur.execute(_MOVE_NEW_ORDERS)
        return {str(row[0]) for row in cur.fetchall()}

    def _run(self, work: Callable[[], T], *, retry: bool) -> T:
        """Run ``work``, translating every database error into the core's classes.

        A transient failure is retried once when asked (reads, and saves, which are
        idempotent): after a server restart the pool may hand out a dead connection.
        """
        for attempt in (1, 2):
            try:
                return work()
            except (psycopg.Error, PoolTimeout, OverflowError) as exc:
                again = retry and attempt == 1 and outcome_of(exc) is RepositoryUnavailable
                # A pool timeout means the server is down: a second wait would double it.
                if again and not isinstance(exc, PoolTimeout):
                    self._drop_dead_connections()
                    continue
                raise translated(exc) from exc
        raise AssertionError("unreachable")

    def _drop_dead_connections(self) -> None:
        # Connections are usually cut together (a restart, a failover, killed sessions).
        for pool in (self._pool, self._ingest_pool):
            if pool is not None:
                pool.check()
