"""The order repository on PostgreSQL.

A batch is saved in one transaction with binary COPY, the fastest way into PostgreSQL.
The orders are copied straight into ``orders``; if that meets an order already stored (a
replay), they go instead through a session-local staging table and on into ``orders``
with ``ON CONFLICT DO NOTHING RETURNING order_uid`` (idempotent), and the orders already
stored under another document are reported as conflicts. Then the deliveries, payments and
items of the orders that were new are copied into their tables. Every save keeps the
session bounds of ``pool.py`` (timeouts set in its transaction, a watchdog past its
deadline). Every database error is translated by ``errors.py``; a refusal is looked up in
the catalog before it is blamed on an order.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from adapters.postgres.copy import copy_rows, prepare_ingest_connection
from adapters.postgres.errors import Constraint, outcome_of, translated
from adapters.postgres.pool import SaveWatchdog, SessionBounds, checked_out, open_pool
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
from order_core.errors import RepositoryFailed, RepositoryUnavailable
from order_core.ports import EncodedOrder, SavedDocument, SaveResult

log = logging.getLogger(__name__)

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
# The orders of the batch stored before under another document, compared as JSON values
# (jsonb: key order and spacing do not count), with the SHA-256 of the stored document.
_CONFLICTING = f"""
SELECT i.order_uid, encode(sha256(convert_to(o.document::text, 'UTF8')), 'hex')
FROM {STAGING_TABLE} i JOIN orders o USING (order_uid)
WHERE o.document::jsonb IS DISTINCT FROM i.document::jsonb
"""  # noqa: S608
# The columns a constraint or an index of a table covers (its key columns and every column
# its expressions or predicate read: pg_depend records them all), and its kind.
_CONSTRAINT_COLUMNS = """
WITH rel AS (SELECT to_regclass(format('%%I.%%I', %(schema)s::text, %(table)s::text)) AS oid),
target AS (
    SELECT c.oid AS object, 'pg_constraint'::regclass AS catalog, c.contype::text AS kind
    FROM pg_constraint c, rel
    WHERE c.conrelid = rel.oid AND c.conname = %(name)s::text
    UNION ALL
    SELECT i.indexrelid, 'pg_class'::regclass, 'i'
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid, rel
    WHERE i.indrelid = rel.oid AND ic.relname = %(name)s::text
      AND NOT EXISTS (
          SELECT 1 FROM pg_constraint c WHERE c.conrelid = rel.oid AND c.conname = %(name)s::text)
)
SELECT t.kind, array_remove(array_agg(DISTINCT a.attname::text), NULL)
FROM target t CROSS JOIN rel
LEFT JOIN pg_depend d
  ON d.classid = t.catalog AND d.objid = t.object
 AND d.refclassid = 'pg_class'::regclass AND d.refobjid = rel.oid AND d.refobjsubid > 0
LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
GROUP BY t.kind
"""
# Keyset page on the (customer_id, seq DESC) index: a range scan however deep the page.
# The missing bound is bigint's top, not "IS NULL OR": that would defeat the index.
CUSTOMER_PAGE_QUERY = """
SELECT seq, document::text FROM orders
WHERE customer_id = %(customer)s AND seq < coalesce(%(before)s::bigint, 9223372036854775807)
ORDER BY seq DESC LIMIT %(size)s
"""


# An order's four tables, children first; the last statement says which orders there were.
_REMOVE = (
    "DELETE FROM items WHERE order_uid = ANY(%s)",
    "DELETE FROM payments WHERE order_uid = ANY(%s)",
    "DELETE FROM deliveries WHERE order_uid = ANY(%s)",
    "DELETE FROM orders WHERE order_uid = ANY(%s) RETURNING order_uid",
)


class PostgresOrderRepository:
    """Implements order_core.ports.OrderRepository.

    ``pool`` serves reads; ``ingest_pool`` (connections prepared by
    ``prepare_ingest_connection``) serves ``save_many``: lookups and the consumer never
    wait for each other's connections.
    """

    def __init__(
        self,
        pool: ConnectionPool,
        ingest_pool: ConnectionPool | None = None,
        bounds: SessionBounds | None = None,
        *,
        prepared_statements: bool = True,
    ) -> None:
        self._pool = pool
        self._prepared = prepared_statements
        self._ingest_pool = ingest_pool
        self.bounds = bounds or SessionBounds()
        self.watchdog = SaveWatchdog()
        self._constraints: dict[tuple[str, str, str], Constraint | None] = {}
        self._encoding_checked = False
        self._checking = threading.Lock()  # one background pool check at a time
        # A read's connection is cut after this: the HTTP layer answers 503 sooner, but the
        # thread and the connection must come back too.
        self._read_deadline = self.bounds.save_deadline

    @classmethod
    def open(
        cls,
        conninfo: str,
        *,
        pool_size: int,
        ingest_pool_size: int = 2,
        timeout: float = 5.0,
        bounds: SessionBounds | None = None,
        prepared_statements: bool = True,
    ) -> PostgresOrderRepository:
        """A repository with its two pools, connecting in the background.

        ``conninfo`` may name several hosts (``host=a,b`` or ``postgresql://a:5432,b:5432/db``)
        with ``target_session_attrs=read-write``: libpq then connects to whichever is the
        primary, and after a failover every new connection finds the new one."""
        bounds = bounds or SessionBounds()
        pools = functools.partial(open_pool, bounds=bounds, prepared_statements=prepared_statements)
        return cls(
            pools(conninfo, name="lookups", max_size=pool_size, timeout=timeout),
            pools(
                conninfo,
                name="ingest",
                max_size=ingest_pool_size,
                timeout=min(timeout, INGEST_POOL_TIMEOUT),
                configure=prepare_ingest_connection,
            ),
            bounds,
            prepared_statements=prepared_statements,
        )

    def close(self) -> None:
        self.watchdog.cut_all()
        for pool in (self._pool, self._ingest_pool):
            if pool is not None:
                pool.close(timeout=2)

    def save_many(self, orders: Sequence[EncodedOrder]) -> SaveResult:
        if not orders:
            return SaveResult(frozenset())
        # Retried at once on a dead pooled connection: the save is idempotent.
        return self._run(functools.partial(self._save, orders), retry=True)

    def get_document(self, order_uid: str) -> bytes | None:
        def read() -> bytes | None:
            with checked_out(self._pool) as conn, self.watchdog.guard(conn, self._read_deadline):
                return _FIND_DOCUMENT.fetch_value(conn, order_uid, prepared=self._prepared)

        return self._run(read, retry=True)

    def remove_many(self, order_uids: Sequence[str]) -> frozenset[str]:
        """The four tables in one transaction: with no foreign keys (migration 003), this
        is the one place that keeps an order's rows together when it goes."""
        if not order_uids:
            return frozenset()

        def remove() -> frozenset[str]:
            uids = list(dict.fromkeys(order_uids))
            pool = self._ingest_pool or self._pool
            with (
                checked_out(pool) as conn,
                self.watchdog.guard(conn, self.bounds.save_deadline),
                conn.transaction(),
                conn.cursor() as cur,
            ):
                cur.execute(self.bounds.transaction_settings())
                for statement in _REMOVE:
                    cur.execute(statement, (uids,))
                return frozenset(str(row[0]) for row in cur.fetchall())

        return self._run(remove, retry=True)

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
            with checked_out(self._pool) as conn, self.watchdog.guard(conn, self._read_deadline):
                params = {"customer": customer_id, "before": before, "size": limit}
                rows = conn.execute(CUSTOMER_PAGE_QUERY, params).fetchall()
            return [SavedDocument(int(seq), str(doc).encode()) for seq, doc in rows]

        return self._run(read, retry=True)

    def count(self) -> int:
        """How many orders are stored (for tests and operators)."""

        def read() -> int:
            with checked_out(self._pool) as conn:
                row = conn.execute("SELECT count(*) FROM orders").fetchone()
            return int(row[0]) if row else 0

        return self._run(read, retry=True)

    def ping(self) -> None:
        """Raise RepositoryUnavailable unless a query goes through now (within a second:
        a readiness probe must answer before its own timeout, with the reason)."""

        def check() -> None:
            with (
                checked_out(self._pool, PING_TIMEOUT) as conn,
                self.watchdog.guard(conn, PING_TIMEOUT),
            ):
                conn.execute("SELECT 1")

        self._run(check, retry=False)

    def _recent_page(self, before: int | None, size: int) -> list[tuple[int, str, str]]:
        with checked_out(self._pool) as conn, self.watchdog.guard(conn, self._read_deadline):
            cur = conn.execute(
                "SELECT seq, order_uid, document::text FROM orders"
                " WHERE %(before)s::bigint IS NULL OR seq < %(before)s"
                " ORDER BY seq DESC LIMIT %(size)s",
                {"before": before, "size": size},
            )
            return [(int(r[0]), str(r[1]), str(r[2])) for r in cur.fetchall()]

    def _save(self, orders: Sequence[EncodedOrder]) -> SaveResult:
        pool = self._ingest_pool
        if pool is None:
            raise AssertionError("this repository was built without an ingest pool")
        with checked_out(pool) as conn:
            if not self._encoding_checked:
                self._check_encoding(conn)
            with (
                self.watchdog.guard(conn, self.bounds.save_deadline),
                conn.transaction(),
                conn.cursor() as cur,
            ):
                cur.execute(self.bounds.transaction_settings())
                inserted, conflicting = self._insert_orders(
                    conn, cur, [order_row(e) for e in orders]
                )
                if inserted:
                    new = [e.order for e in orders if e.order_uid in inserted]
                    copy_rows(cur, "deliveries", DELIVERY_COLUMNS, [delivery_row(o) for o in new])
                    copy_rows(cur, "payments", PAYMENT_COLUMNS, [payment_row(o) for o in new])
                    items = [row for o in new for row in item_rows(o)]
                    copy_rows(cur, "items", ITEM_COLUMNS, items)
        return SaveResult(frozenset(inserted), conflicting)

    def _check_encoding(self, conn: psycopg.Connection[Any]) -> None:
        """Refuse to write into a database whose encoding is not UTF8: it would refuse, or
        worse store altered, every order with a character it cannot hold."""
        encoding = conn.execute("SELECT current_setting('server_encoding')").fetchone()
        if encoding is None or encoding[0] != "UTF8":
            raise RepositoryFailed(
                f"the database's encoding is {encoding[0] if encoding else '?'}, not UTF8:"
                " orders hold any Unicode text (create the database WITH ENCODING 'UTF8')"
            )
        self._encoding_checked = True

    @staticmethod
    def _insert_orders(
        conn: psycopg.Connection[Any], cur: psycopg.Cursor[Any], rows: list[Row]
    ) -> tuple[set[str], dict[str, str]]:
        """Insert the order rows; return the order_uids that were new, and those stored
        before under another document (with the stored document's SHA-256).

        Most batches hold only new orders: they are copied straight in. A batch meeting an
        order already stored (a replay after a crash, a repeat) fails that copy on the
        primary key at its savepoint and goes through the staging table and ``ON CONFLICT
        DO NOTHING``. Any other refusal propagates, to be judged (``errors.py``).
        """
        try:
            with conn.transaction():  # a savepoint
                copy_rows(cur, "orders", ORDER_COLUMNS, rows)
            return {str(row[0]) for row in rows}, {}
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name != "orders_pkey":
                raise
        cur.execute(_CREATE_STAGING)
        copy_rows(cur, STAGING_TABLE, ORDER_COLUMNS, rows)
        cur.execute(_MOVE_NEW_ORDERS)
        inserted = {str(row[0]) for row in cur.fetchall()}
        cur.execute(_CONFLICTING)
        conflicting = {str(uid): str(digest) for uid, digest in cur.fetchall()}
        return inserted, conflicting

    def _constraint(self, schema: str, table: str, name: str) -> Constraint | None:
        """What the catalog says of a constraint or index (cached: they rarely change)."""
        key = (schema, table, name)
        if key not in self._constraints:
            params = {"schema": schema, "table": table, "name": name}
            with checked_out(self._pool) as conn, self.watchdog.guard(conn, self._read_deadline):
                row = conn.execute(_CONSTRAINT_COLUMNS, params).fetchone()
            self._constraints[key] = (
                None if row is None else Constraint(str(row[0]), frozenset(row[1] or ()))
            )
        return self._constraints[key]

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
                raise self._judged(exc) from exc
        raise AssertionError("unreachable")

    def _judged(self, exc: BaseException) -> Exception:
        try:
            return translated(exc, self._constraint)
        except (psycopg.Error, PoolTimeout) as lookup_failed:  # the database went away too
            return RepositoryUnavailable(
                f"PostgreSQL unavailable: a refusal could not be looked up: {lookup_failed}"
            )

    def _drop_dead_connections(self) -> None:
        """Check the idle pooled connections in the background: they are usually cut
        together (a restart, a failover, killed sessions). Never in the caller's thread: on
        a server that stopped answering, each check would wait for the TCP bounds."""
        if not self._checking.acquire(blocking=False):
            return

        def check() -> None:
            try:
                for pool in (self._pool, self._ingest_pool):
                    if pool is not None:
                        pool.check()
            except Exception as exc:  # closed meanwhile: nothing to check
                log.debug("pool check: %s", exc)
            finally:
                self._checking.release()

        threading.Thread(target=check, name="postgres-pool-check", daemon=True).start()
