"""The naive baseline of ingest: a consumer that polls one message, parses and encodes it as
the service does, INSERTs its rows with one plain INSERT per row in a transaction of its own
and commits the offset synchronously before the next, into a fresh database; the share of
its time spent committing offsets is noted too.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaException

from bench.databases import create_database, drop_database
from bench.environment import KAFKA, Disturbed
from bench.ingest import TIMEOUT, IngestRun, check_stored
from bench.kafka_admin import new_group
from order_core.codec import decode_order, encode_order

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
        check_stored(database_url, count)
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
