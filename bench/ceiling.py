"""The raw COPY ceiling of ingest: the rows of the same orders the service ingests, built as
tuples before the clock starts, loaded into the tables of a fresh database by the
repository's own binary COPY (``copy_rows``), one transaction per batch, with neither Kafka
nor parsing nor validation; the clock covers the COPYs and commits only.
"""

from __future__ import annotations

import time

import attrs
import psycopg

from adapters.postgres.copy import copy_rows, prepare_ingest_connection
from adapters.postgres.rows import (
    DELIVERY_COLUMNS,
    ITEM_COLUMNS,
    ORDER_COLUMNS,
    PAYMENT_COLUMNS,
    Row,
    delivery_row,
    item_rows,
    order_row,
    payment_row,
)
from bench.databases import create_database, drop_database
from bench.ingest import SEED, check_stored
from order_core.codec import decode_order, encode_order
from order_core.ports import EncodedOrder
from order_tools.fake_orders import messages


@attrs.frozen
class CeilingRun:
    orders: int
    batch: int  # orders per transaction
    seconds: float

    @property
    def rate(self) -> float:
        return self.orders / self.seconds


# One batch as the rows of its four tables.
TableRows = tuple[list[Row], list[Row], list[Row], list[Row]]


def prebuilt_rows(count: int) -> list[tuple[Row, Row, Row, list[Row]]]:
    """The rows of the ``count`` orders that ``ingest.publish`` sends, decoded and encoded once,
    as the tuples the repository copies (orders, delivery, payment, items)."""
    rows = []
    for _, value, _ in messages(count, SEED):
        order = decode_order(value)
        encoded = EncodedOrder(order, encode_order(order))
        rows.append((order_row(encoded), delivery_row(order), payment_row(order), item_rows(order)))
    return rows


def _batches(rows: list[tuple[Row, Row, Row, list[Row]]], size: int) -> list[TableRows]:
    batches = []
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        batches.append(
            (
                [r[0] for r in chunk],
                [r[1] for r in chunk],
                [r[2] for r in chunk],
                [item for r in chunk for item in r[3]],
            )
        )
    return batches


def copy_ceiling(rows: list[tuple[Row, Row, Row, list[Row]]], batch: int) -> CeilingRun:
    """One timed load of prebuilt rows by binary COPY, ``batch`` orders per transaction,
    into a fresh database; the clock covers the COPYs and commits only."""
    batches = _batches(rows, batch)
    database_url = create_database()
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            prepare_ingest_connection(conn)  # the ingest pool's documents-as-bytes dumper
            started = time.perf_counter()
            for orders, deliveries, payments, items in batches:
                with conn.transaction(), conn.cursor() as cur:
                    copy_rows(cur, "orders", ORDER_COLUMNS, orders)
                    copy_rows(cur, "deliveries", DELIVERY_COLUMNS, deliveries)
                    copy_rows(cur, "payments", PAYMENT_COLUMNS, payments)
                    copy_rows(cur, "items", ITEM_COLUMNS, items)
            elapsed = time.perf_counter() - started
        check_stored(database_url, len(rows))
    finally:
        drop_database(database_url)
    return CeilingRun(len(rows), batch, elapsed)
