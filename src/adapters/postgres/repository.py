"""The order repository on PostgreSQL.

A batch is written with one multi-row statement per table (``unnest`` of arrays) in one
transaction: four round trips whatever the batch size, instead of one per row.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from order_core.errors import RejectedByRepository, RepositoryUnavailable
from order_core.ports import EncodedOrder

log = logging.getLogger(__name__)
T = TypeVar("T")

# Binary parameters (%b): psycopg would otherwise escape every quote of the JSON documents
# in Python, element by element; binary halves the cost of a whole ingest.
_INSERT_ORDERS = """
INSERT INTO orders (order_uid, track_number, entry, locale, internal_signature, customer_id,
                    delivery_service, shardkey, sm_id, date_created, oof_shard, document)
SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
                     %b::text[], %b::text[], %b::bigint[], %b::timestamptz[], %b::text[],
                     %b::json[])
ON CONFLICT (order_uid) DO NOTHING
RETURNING order_uid
"""
_INSERT_DELIVERIES = """
INSERT INTO deliveries (order_uid, name, phone, zip, city, address, region, email)
SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
                     %b::text[], %b::text[])
"""
_INSERT_PAYMENTS = """
INSERT INTO payments (order_uid, transaction, request_id, currency, provider, amount,
                      payment_dt, bank, delivery_cost, goods_total, custom_fee)
SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
                     %b::bigint[], %b::bigint[], %b::text[], %b::bigint[], %b::bigint[],
                     %b::bigint[])
"""
_INSERT_ITEMS = """
INSERT INTO items (order_uid, position, chrt_id, track_number, price, rid, name, sale, size,
                   total_price, nm_id, brand, status)
SELECT * FROM unnest(%b::text[], %b::integer[], %b::bigint[], %b::text[], %b::bigint[],
                     %b::text[], %b::text[], %b::integer[], %b::text[], %b::bigint[],
                     %b::bigint[], %b::text[], %b::integer[])
"""


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows to columns: one array parameter per column for ``unnest``."""
    return [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


class PostgresOrderRepository:
    """Implements order_core.ports.OrderRepository."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def save_many(self, orders: Sequence[EncodedOrder]) -> set[str]:
        if not orders:
            return set()
        try:
            # Retried at once like reads: the insert is idempotent (ON CONFLICT DO NOTHING),
            # and a pooled connection cut since its last use fails the first attempt.
            return self._run(lambda: self._save(orders), retry=True)
        except (psycopg.DataError, psycopg.IntegrityError) as exc:
            raise RejectedByRepository(str(exc).splitlines()[0]) from exc

    def get_document(self, order_uid: str) -> bytes | None:
        def read() -> bytes | None:
            with self._pool.connection() as conn:
                row = conn.execute(
                    "SELECT document::text FROM orders WHERE order_uid = %s", (order_uid,)
                ).fetchone()
            return None if row is None else str(row[0]).encode()

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

    def count(self) -> int:
        """How many orders are stored (for tests and operators)."""

        def read() -> int:
            with self._pool.connection() as conn:
                row = conn.execute("SELECT count(*) FROM orders").fetchone()
            return int(row[0]) if row else 0

        return self._run(read, retry=True)

    def ping(self) -> None:
        """Raise RepositoryUnavailable unless a query goes through now."""

        def check() -> None:
            with self._pool.connection() as conn:
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
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            order_rows = [
                (
                    o.order_uid,
                    o.track_number,
                    o.entry,
                    o.locale,
                    o.internal_signature,
                    o.customer_id,
                    o.delivery_service,
                    o.shardkey,
                    o.sm_id,
                    o.date_created,
                    o.oof_shard,
                    e.document.decode(),
                )
                for e in orders
                for o in (e.order,)
            ]
            cur.execute(_INSERT_ORDERS, _columns(order_rows, 12))
            inserted = {str(row[0]) for row in cur.fetchall()}
            new = [e.order for e in orders if e.order_uid in inserted]
            if not new:
                return inserted
            deliveries = [
                (o.order_uid, d.name, d.phone, d.zip, d.city, d.address, d.region, d.email)
                for o in new
                for d in (o.delivery,)
            ]
            payments = [
                (
                    o.order_uid,
                    p.transaction,
                    p.request_id,
                    p.currency,
                    p.provider,
                    p.amount,
                    p.payment_dt,
                    p.bank,
                    p.delivery_cost,
                    p.goods_total,
                    p.custom_fee,
                )
                for o in new
                for p in (o.payment,)
            ]
            items = [
                (
                    o.order_uid,
                    position,
                    i.chrt_id,
                    i.track_number,
                    i.price,
                    i.rid,
                    i.name,
                    i.sale,
                    i.size,
                    i.total_price,
                    i.nm_id,
                    i.brand,
                    i.status,
                )
                for o in new
                for position, i in enumerate(o.items)
            ]
            cur.execute(_INSERT_DELIVERIES, _columns(deliveries, 8))
            cur.execute(_INSERT_PAYMENTS, _columns(payments, 11))
            cur.execute(_INSERT_ITEMS, _columns(items, 13))
        return inserted

    def _run(self, work: Callable[[], T], *, retry: bool) -> T:
        """Run ``work``, turning connection failures into RepositoryUnavailable.

        Retried once when asked (reads, and saves, which are idempotent): after a server
        restart the pool may hand out a connection that is already dead.
        """
        attempts = 2 if retry else 1
        for attempt in range(attempts):
            try:
                return work()
            except PoolTimeout as exc:
                # No connection within the pool's timeout: the server is down, and waiting
                # a second timeout would only double a failing request's latency.
                raise RepositoryUnavailable(f"PostgreSQL unavailable: {exc}") from exc
            except psycopg.OperationalError as exc:
                if attempt + 1 < attempts:
                    # Connections are usually cut together (a restart, a failover, killed
                    # sessions): drop every dead one in the pool before the second try.
                    self._pool.check()
                    continue
                raise RepositoryUnavailable(f"PostgreSQL unavailable: {exc}") from exc
        raise AssertionError("unreachable")


def open_pool(
    conninfo: str, min_size: int = 1, max_size: int = 10, timeout: float = 5.0
) -> ConnectionPool:
    """A connection pool that opens in the background: the service starts even when the
    database is down, and each request waits at most ``timeout`` for a connection."""
    pool = ConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        open=False,
        # Autocommit: a lookup is one round trip, not BEGIN, SELECT, COMMIT; saves still
        # run in the explicit transaction of conn.transaction().
        kwargs={"connect_timeout": 3, "application_name": "order-service", "autocommit": True},
        # Drop a failed background connection attempt at once rather than retry it for
        # minutes: each request asks for a new one, so the pool reconnects as soon as the
        # server answers again (within one pool timeout).
        reconnect_timeout=0,
    )
    pool.open(wait=False)
    return pool
