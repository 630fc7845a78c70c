"""The PostgreSQL repository against a real server."""

from __future__ import annotations

import uuid

import attrs
import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings

from adapters.postgres.migrations import available_migrations, migrate
from adapters.postgres.repository import PostgresOrderRepository, open_pool
from order_core import (
    EncodedOrder,
    Order,
    RejectedByRepository,
    RepositoryUnavailable,
    decode_order,
    encode_order,
)
from tests.strategies import orders

pytestmark = pytest.mark.integration


def encoded(order: Order) -> EncodedOrder:
    return EncodedOrder(order, encode_order(order))


def numbered(sample_bytes: bytes, i: int) -> Order:
    return attrs.evolve(decode_order(sample_bytes), order_uid=f"order-{i}")


def test_sample_is_saved_in_normalized_tables(
    repository: PostgresOrderRepository, clean_database: str, sample_bytes: bytes
) -> None:
    order = decode_order(sample_bytes)
    assert repository.save_many([encoded(order)]) == {order.order_uid}
    with psycopg.connect(clean_database) as conn:
        row = conn.execute(
            "SELECT o.track_number, d.city, p.amount, i.brand, i.position, o.date_created"
            " FROM orders o JOIN deliveries d USING (order_uid) JOIN payments p USING (order_uid)"
            " JOIN items i USING (order_uid) WHERE o.order_uid = %s",
            (order.order_uid,),
        ).fetchall()
    assert row == [
        ("WBILMTESTTRACK", "Kiryat Mozkin", 1817, "Vivienne Sabo", 0, order.date_created)
    ]
    document = repository.get_document(order.order_uid)
    assert document is not None
    assert orjson.loads(document) == orjson.loads(sample_bytes)


def test_saving_again_neither_duplicates_nor_fails(
    repository: PostgresOrderRepository, clean_database: str, sample_bytes: bytes
) -> None:
    first = [encoded(numbered(sample_bytes, i)) for i in range(3)]
    assert repository.save_many(first) == {"order-0", "order-1", "order-2"}
    mixed = [encoded(numbered(sample_bytes, i)) for i in range(2, 5)]
    assert repository.save_many(mixed) == {"order-3", "order-4"}
    assert repository.count() == 5
    with psycopg.connect(clean_database) as conn:
        items = conn.execute("SELECT count(*) FROM items").fetchone()
    assert items == (5,)


def test_unknown_order_is_none(repository: PostgresOrderRepository) -> None:
    assert repository.get_document("nope") is None


def test_recent_documents_newest_first_in_batches(
    repository: PostgresOrderRepository, sample_bytes: bytes
) -> None:
    for i in range(7):  # one batch each, so the save order is known
        repository.save_many([encoded(numbered(sample_bytes, i))])
    batches = list(repository.recent_documents(limit=5, batch_size=2))
    assert [len(b) for b in batches] == [2, 2, 1]
    uids = [uid for batch in batches for uid in batch]
    assert uids == ["order-6", "order-5", "order-4", "order-3", "order-2"]


def test_a_batch_is_one_transaction(
    repository: PostgresOrderRepository, sample_bytes: bytes
) -> None:
    good = encoded(numbered(sample_bytes, 1))
    bad_order = numbered(sample_bytes, 2)
    # Bypasses validation on purpose: the database's own check refuses a sale over 100.
    bad_item = attrs.evolve(bad_order.items[0], sale=150)
    bad = encoded(attrs.evolve(bad_order, items=(bad_item,)))
    with pytest.raises(RejectedByRepository):
        repository.save_many([good, bad])
    assert repository.count() == 0


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=orders())
def test_any_valid_order_round_trips_through_the_database(
    repository: PostgresOrderRepository, order: Order
) -> None:
    # Examples share the database: give each its own id so an earlier one cannot answer.
    order = attrs.evolve(order, order_uid=uuid.uuid4().hex)
    repository.save_many([encoded(order)])
    document = repository.get_document(order.order_uid)
    assert document is not None
    assert decode_order(document) == order


def test_migrations_are_recorded_and_idempotent(clean_database: str) -> None:
    assert migrate(clean_database) == []
    with psycopg.connect(clean_database) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [v for v, _, _ in available_migrations()]


def test_unreachable_database_raises_repository_unavailable(sample_bytes: bytes) -> None:
    pool = open_pool("postgresql://orders:orders@127.0.0.1:1/orders", timeout=1)
    try:
        repository = PostgresOrderRepository(pool)
        with pytest.raises(RepositoryUnavailable):
            repository.get_document("x")
        with pytest.raises(RepositoryUnavailable):
            repository.save_many([encoded(decode_order(sample_bytes))])
    finally:
        pool.close()
