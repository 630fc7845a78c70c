"""Ingest throughput: orders per second from messages already in Kafka to rows committed.

Two paths read the same pre-published topic, each as a new consumer group into a fresh
database:
- the service's: OrderConsumer + SaveThenCache + PostgresOrderRepository, wired by the
  service's own container (batches of ``batch_size``: the next batch fetched, decoded and
  encoded while a saver thread stores the last one by binary COPY in one transaction;
  offsets committed after the commit);
- a naive baseline: poll() one message, parse and encode it the same way, INSERT its rows
  with one plain INSERT per row in a transaction of its own, commit the offset, repeat.
The clock runs from the consumer's start (subscription and group join included) to the
moment the last order's transaction has committed.

And a ceiling with neither Kafka nor parsing nor validation: the same orders' rows, built
as tuples before the clock starts, loaded into the same tables of a fresh database by the
repository's own binary COPY (``copy_rows``), one transaction per batch.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import attrs
import psycopg
from confluent_kafka import Consumer, KafkaException

from adapters.kafka.publisher import KafkaPublisher
from adapters.kafka.records import Record
from adapters.postgres.repository import copy_rows, prepare_ingest_connection
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
from bench.environment import KAFKA, Disturbed, create_database, drop_database, new_group
from entrypoints.container import build_container
from entrypoints.settings import Settings, load
from order_core.codec import decode_order, encode_order
from order_core.ports import EncodedOrder
from order_tools.fake_orders import messages

SEED = 20240601  # the same orders in every run, so runs are comparable
TIMEOUT = 600.0  # a run that has not finished by then is broken, not slow


@attrs.frozen
class IngestRun:
    orders: int
    seconds: float
    first_batch_seconds: float  # from start to the first message in hand (group join)

    @property
    def rate(self) -> float:
        return self.orders / self.seconds

    @property
    def rate_after_join(self) -> float:
        """The rate once the group is joined and the first batch is in hand."""
        return self.orders / max(self.seconds - self.first_batch_seconds, 1e-9)


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
        _check_stored(database_url, len(rows))
    finally:
        drop_database(database_url)
    return CeilingRun(len(rows), batch, elapsed)


def publish(topic: str, count: int) -> float:
    """Put ``count`` realistic orders on the topic; return the seconds it took."""
    pairs = [Record(key, value) for key, value, _ in messages(count, SEED)]
    publisher = KafkaPublisher(KAFKA)
    started = time.perf_counter()
    try:
        for start in range(0, len(pairs), 10_000):
            publisher.publish(topic, pairs[start : start + 10_000])
    finally:
        publisher.close()
    return time.perf_counter() - started


def _settings(database_url: str, topic: str) -> Settings:
    return load(
        {},
        {
            "kafka_bootstrap": KAFKA,
            "kafka_topic": topic,
            "kafka_dlq_topic": f"{topic}.dlq",
            "kafka_group": new_group("ingest"),
            "database_url": database_url,
            "warm_up_orders": "0",
            "log_level": "WARNING",
        },
    )


def service_path(topic: str, count: int, keep_database: bool = False) -> tuple[IngestRun, str]:
    """One timed run of the service's consumer path; returns the run and the database URL."""
    database_url = create_database()
    try:
        container = build_container(_settings(database_url, topic))
        container.repository().ping()  # the service opens its pools before it consumes
        consumer = container.consumer()
        thread = threading.Thread(target=consumer.run, name="bench-consumer", daemon=True)
        started = time.perf_counter()
        first_batch = 0.0
        thread.start()
        try:
            deadline = started + TIMEOUT
            while consumer.state.saved < count:
                if not thread.is_alive():
                    raise RuntimeError("the consumer stopped before saving every order")
                if not first_batch and consumer.state.messages:
                    first_batch = time.perf_counter() - started
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"saved {consumer.state.saved} of {count} in time")
                time.sleep(0.002)
            # stats.saved counts orders whose transaction has committed.
            elapsed = time.perf_counter() - started
        finally:
            consumer.stop()
            thread.join(30)
            container.shutdown_resources()
        if consumer.state.retries:
            raise Disturbed(f"the consumer retried {consumer.state.retries} batch(es)")
        _check_stored(database_url, count)
    except BaseException:
        drop_database(database_url)
        raise
    if not keep_database:
        drop_database(database_url)
    return IngestRun(count, elapsed, first_batch), database_url


_NAIVE_ORDER = """
INSERT INTO orders (order_uid, track_number, entry, locale, internal_signature, customer_id,
                    delivery_service, shardkey, sm_id, date_created, oof_shard, document)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (order_uid) DO NOTHING
"""
_NAIVE_DELIVERY = """
INSERT INTO deliveries (order_uid, name, phone, zip, city, address, region, email)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""
_NAIVE_PAYMENT = """
INSERT INTO payments (order_uid, transaction, request_id, currency, provider, amount,
                      payment_dt, bank, delivery_cost, goods_total, custom_fee)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
_NAIVE_ITEM = """
INSERT INTO items (order_uid, position, chrt_id, track_number, price, rid, name, sale, size,
                   total_price, nm_id, brand, status)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


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
        _check_stored(database_url, count)
    finally:
        drop_database(database_url)
    return IngestRun(count, elapsed, first_batch), committing / elapsed


def _save_one(conn: psycopg.Connection[Any], raw: bytes, cache: dict[str, bytes]) -> None:
    order = decode_order(raw)
    document = encode_order(order)
    d, p = order.delivery, order.payment
    with conn.transaction():
        conn.execute(
            _NAIVE_ORDER,
            (
                order.order_uid, order.track_number, order.entry, order.locale,
                order.internal_signature, order.customer_id, order.delivery_service,
                order.shardkey, order.sm_id, order.date_created, order.oof_shard,
                document.decode(),
            ),
        )  # fmt: skip
        conn.execute(
            _NAIVE_DELIVERY,
            (order.order_uid, d.name, d.phone, d.zip, d.city, d.address, d.region, d.email),
        )
        conn.execute(
            _NAIVE_PAYMENT,
            (
                order.order_uid, p.transaction, p.request_id, p.currency, p.provider, p.amount,
                p.payment_dt, p.bank, p.delivery_cost, p.goods_total, p.custom_fee,
            ),
        )  # fmt: skip
        for position, i in enumerate(order.items):
            conn.execute(
                _NAIVE_ITEM,
                (
                    order.order_uid, position, i.chrt_id, i.track_number, i.price, i.rid,
                    i.name, i.sale, i.size, i.total_price, i.nm_id, i.brand, i.status,
                ),
            )  # fmt: skip
    cache[order.order_uid] = document  # the service caches after the commit too


def _check_stored(database_url: str, count: int) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM deliveries),"
            " (SELECT count(*) FROM payments)"
        ).fetchone()
    if row is None or any(n != count for n in row):
        raise RuntimeError(f"expected {count} orders with their rows, found {row}")
