"""Ingest throughput: orders per second from messages already in Kafka to rows committed.

Two paths read the same pre-published topic, each as a new consumer group into a fresh
database:
- the service's (``service_path``): an ``order-service consume`` process with the default
  settings (OrderConsumer + SaveThenCache + PostgresOrderRepository: batches of
  ``batch_size``, the next batch fetched, decoded and encoded while a saver thread stores
  the last one by binary COPY in one transaction; offsets committed after the commit);
- a naive baseline (``naive_baseline``): poll() one message, parse and encode it the same
  way, INSERT its rows with one plain INSERT per row in a transaction of its own, commit
  the offset synchronously, repeat; the share of its time spent committing offsets is
  noted too.
The clock runs from the consumer's start (subscription and group join included) to the
moment the last order's transaction has committed.

And a ceiling with neither Kafka nor parsing nor validation (``copy_ceiling``): the same
orders' rows, built as tuples before the clock starts, loaded into the same tables of a
fresh database by the repository's own binary COPY (``copy_rows``), one transaction per
batch; the clock covers the COPYs and commits only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import psycopg
from confluent_kafka import Consumer, KafkaException

from adapters.kafka.client.publisher import KafkaPublisher
from adapters.kafka.client.records import Record
from adapters.postgres.copy import copy_rows, prepare_ingest_connection
from adapters.postgres.rows import (
    DELIVERY_COLUMNS,
    ITEM_COLUMNS,
    ORDER_COLUMNS,
    PAYMENT_COLUMNS,
    TABLES,
    Row,
    delivery_row,
    insert_statement,
    item_rows,
    order_row,
    payment_row,
)
from bench.environment import KAFKA, Disturbed, create_database, drop_database, new_group
from bench.processes import ServiceProcess
from order_core.codec import decode_order, encode_order
from order_core.ports import EncodedOrder
from order_tools.fake_orders import messages

SEED = 20240601  # the same orders in every run, so runs are comparable
TIMEOUT = 600.0  # a run that has not finished by then is broken, not slow


@attrs.frozen
class IngestRun:
    orders: int
    seconds: float
    # From the start to the first batch: committed (the service) or in hand (the baseline).
    first_batch_seconds: float

    @property
    def rate(self) -> float:
        return self.orders / self.seconds


def order_records(count: int) -> list[Record]:
    """The ``count`` realistic orders of every run (the same seed), as Kafka records."""
    return [Record(key, value) for key, value, _ in messages(count, SEED)]


def publish_and_close(publisher: KafkaPublisher, topic: str, records: Sequence[Record]) -> None:
    """Publish the records 10,000 at a time, then close the publisher (whatever happens)."""
    try:
        for start in range(0, len(records), 10_000):
            publisher.publish(topic, records[start : start + 10_000])
    finally:
        publisher.close()


def publish(topic: str, count: int) -> float:
    """Put ``count`` realistic orders on the topic; return the seconds it took."""
    records = order_records(count)
    publisher = KafkaPublisher(KAFKA)
    started = time.perf_counter()
    publish_and_close(publisher, topic, records)
    return time.perf_counter() - started


def stored_orders(conn: psycopg.Connection[Any], expected: int) -> int:
    """Orders committed so far in a fresh database, cheaply: the highest ``seq`` (an
    identity that COPY assigns in order), read from its index in a fraction of a
    millisecond where count(*) would scan the table; once that reaches ``expected``, the
    exact count (a rolled-back copy leaves gaps in ``seq``)."""
    row = conn.execute("SELECT max(seq) FROM orders").fetchone()
    top = int(row[0]) if row and row[0] is not None else 0
    if top < expected:
        return top
    row = conn.execute("SELECT count(*) FROM orders").fetchone()
    return int(row[0]) if row else 0


def service_path(
    topic: str, count: int, log_dir: Path, keep_database: bool = False
) -> tuple[IngestRun, str]:
    """One timed run of ``order-service consume`` (default settings, a new group) over the
    published topic; returns the run and the database URL.

    The clock starts when the process's consumer loop starts (it logs "consuming"; the
    interpreter's start, the migrations and the connection pools come before) and stops
    when the last order is committed.
    """
    database_url = create_database()
    try:
        settings = {
            "kafka_topic": topic,
            "kafka_dlq_topic": f"{topic}.dlq",
            "kafka_group": new_group("ingest"),
        }
        consumer = ServiceProcess(database_url, log_dir, settings, command="consume")
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                deadline = time.perf_counter() + 120
                while "consuming " not in consumer.log_path.read_text(errors="replace"):
                    if consumer.process.poll() is not None or time.perf_counter() > deadline:
                        raise RuntimeError(f"the consumer did not start; see {consumer.log_path}")
                    time.sleep(0.002)
                started = time.perf_counter()
                first_commit = 0.0
                while (stored := stored_orders(conn, count)) < count:
                    if consumer.process.poll() is not None:
                        raise RuntimeError(f"the consumer exited; see {consumer.log_path}")
                    if not first_commit and stored:
                        first_commit = time.perf_counter() - started
                    if time.perf_counter() - started > TIMEOUT:
                        raise RuntimeError(f"saved {stored} of {count} in time")
                    time.sleep(0.005)
                elapsed = time.perf_counter() - started
        finally:
            consumer.stop()
        if "batch not done, retrying" in consumer.log_path.read_text(errors="replace"):
            raise Disturbed(f"the consumer retried a batch; see {consumer.log_path}")
        check_stored(database_url, count)
    except BaseException:
        drop_database(database_url)
        raise
    if not keep_database:
        drop_database(database_url)
    return IngestRun(count, elapsed, first_commit), database_url


def check_stored(database_url: str, count: int) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM deliveries),"
            " (SELECT count(*) FROM payments)"
        ).fetchone()
    if row is None or any(n != count for n in row):
        raise RuntimeError(f"expected {count} orders with their rows, found {row}")


_NAIVE = {table: insert_statement(table) for table in TABLES}
_SKIP_STORED = " ON CONFLICT (order_uid) DO NOTHING"


def naive_baseline(topic: str, count: int) -> tuple[IngestRun, float]:
    """One timed run of the one-order-per-transaction consumer, for ``count`` messages.

    Returns the run and the share of its time spent committing offsets.
    """
    database_url = create_database()
    try:
        consumer = Consumer(
            {
                "bootstrap.servers": KAFKA,
                "group.id": new_group("naive"),
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
            }
        )
        cache: dict[str, bytes] = {}
        with psycopg.connect(database_url, autocommit=True) as conn:
            started = time.perf_counter()
            first_batch = 0.0
            consumer.subscribe([topic])
            done = 0
            committing = 0.0
            try:
                while done < count:
                    message = consumer.poll(1.0)
                    if message is None or message.error() is not None:
                        if time.perf_counter() - started > TIMEOUT:
                            raise RuntimeError(f"naive consumer saved {done} of {count} in time")
                        continue
                    if not first_batch:
                        first_batch = time.perf_counter() - started
                    _save_one(conn, message.value() or b"", cache)
                    before_commit = time.perf_counter()
                    try:
                        consumer.commit(message=message, asynchronous=False)
                    except KafkaException as exc:
                        raise Disturbed(f"offset commit failed: {exc}") from exc
                    committing += time.perf_counter() - before_commit
                    done += 1
                elapsed = time.perf_counter() - started
            finally:
                consumer.close()
        check_stored(database_url, count)
    finally:
        drop_database(database_url)
    return IngestRun(count, elapsed, first_batch), committing / elapsed


def _save_one(conn: psycopg.Connection[Any], raw: bytes, cache: dict[str, bytes]) -> None:
    order = decode_order(raw)
    document = encode_order(order)
    encoded = EncodedOrder(order, document)
    with conn.transaction():
        # The document as text: a json parameter (bytes would be sent as bytea).
        conn.execute(_NAIVE["orders"] + _SKIP_STORED, (*order_row(encoded)[:-1], document.decode()))
        conn.execute(_NAIVE["deliveries"], delivery_row(order))
        conn.execute(_NAIVE["payments"], payment_row(order))
        for item in item_rows(order):
            conn.execute(_NAIVE["items"], item)
    cache[order.order_uid] = document  # the service caches after the commit too


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
    """The rows of the ``count`` orders that ``publish`` sends, decoded and encoded once,
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
