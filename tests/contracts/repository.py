"""The OrderRepository contract (order_core.ports), for every repository.

The including module provides a ``repository`` fixture: an empty repository.
"""

from __future__ import annotations

import hashlib
import uuid

import attrs
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from order_core import (
    EncodedOrder,
    Order,
    OrderRepository,
    SaveResult,
    decode_order,
    encode_order,
)
from tests.conftest import SAMPLE_PATH
from tests.strategies import orders

BASE = decode_order(SAMPLE_PATH.read_bytes())


def encoded(order: Order) -> EncodedOrder:
    return EncodedOrder(order, encode_order(order))


def numbered(i: int, prefix: str = "order-") -> EncodedOrder:
    return encoded(attrs.evolve(BASE, order_uid=f"{prefix}{i}"))


def test_a_batch_is_saved_and_returns_the_new_ids(repository: OrderRepository) -> None:
    assert repository.save_many([numbered(i) for i in range(3)]).inserted == {
        "order-0",
        "order-1",
        "order-2",
    }
    for i in range(3):
        assert repository.get_document(f"order-{i}") == numbered(i).document


def test_saving_again_neither_duplicates_nor_fails(repository: OrderRepository) -> None:
    repository.save_many([numbered(i) for i in range(3)])
    again = repository.save_many([numbered(i) for i in range(2, 5)])
    assert again == SaveResult(frozenset({"order-3", "order-4"}))
    assert repository.save_many([numbered(0)]) == SaveResult(frozenset())


def test_the_first_stored_copy_stays_and_another_document_is_a_conflict(
    repository: OrderRepository,
) -> None:
    first = numbered(1)
    other = encoded(attrs.evolve(first.order, track_number="OTHER"))
    repository.save_many([first])
    result = repository.save_many([other, numbered(2)])
    assert result.inserted == {"order-2"}
    assert result.conflicting == {"order-1": hashlib.sha256(first.document).hexdigest()}
    assert repository.get_document("order-1") == first.document


def test_the_same_value_in_another_spelling_is_no_conflict(repository: OrderRepository) -> None:
    first = numbered(1)
    repository.save_many([first])
    spaced = EncodedOrder(
        first.order, orjson.dumps(orjson.loads(first.document), option=orjson.OPT_INDENT_2)
    )
    assert repository.save_many([spaced]) == SaveResult(frozenset())
    assert repository.get_document("order-1") == first.document


def test_removing_orders_removes_them_and_only_them(repository: OrderRepository) -> None:
    repository.save_many([numbered(i) for i in range(5)])
    assert repository.remove_many(["order-1", "order-3", "order-3", "nosuch"]) == {
        "order-1",
        "order-3",
    }
    assert repository.get_document("order-1") is None
    assert repository.get_document("order-3") is None
    for i in (0, 2, 4):
        assert repository.get_document(f"order-{i}") == numbered(i).document
    listed = repository.customer_documents(BASE.customer_id, 10)
    assert sorted(d.document for d in listed) == sorted(numbered(i).document for i in (0, 2, 4))
    assert repository.remove_many([]) == frozenset()
    assert repository.remove_many(["order-1"]) == frozenset()  # gone already


def test_a_removed_order_saved_again_is_new_and_last(repository: OrderRepository) -> None:
    repository.save_many([numbered(i) for i in range(3)])
    repository.remove_many(["order-0"])
    assert repository.save_many([numbered(0)]).inserted == {"order-0"}
    assert repository.get_document("order-0") == numbered(0).document
    newest = repository.customer_documents(BASE.customer_id, 1)
    assert [d.document for d in newest] == [numbered(0).document]


def test_an_empty_batch_saves_nothing(repository: OrderRepository) -> None:
    assert repository.save_many([]) == SaveResult(frozenset())


def test_an_unknown_id_is_none(repository: OrderRepository) -> None:
    assert repository.get_document("nope") is None


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order_uid=st.text(max_size=300))
def test_any_id_not_stored_reads_as_none(repository: OrderRepository, order_uid: str) -> None:
    # Any text at all (NUL, lone surrogates, very long): absent, never an error.
    repository.save_many([numbered(1)])
    if order_uid != "order-1":
        assert repository.get_document(order_uid) is None


def test_recent_documents_are_newest_first_in_batches(repository: OrderRepository) -> None:
    for i in range(7):  # one batch each, so the save order is known
        repository.save_many([numbered(i)])
    batches = list(repository.recent_documents(limit=5, batch_size=2))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert [uid for batch in batches for uid in batch] == [f"order-{i}" for i in (6, 5, 4, 3, 2)]
    assert list(repository.recent_documents(limit=0, batch_size=2)) == []


def of_customer(i: int, customer: str) -> EncodedOrder:
    return encoded(attrs.evolve(numbered(i).order, customer_id=customer))


def test_a_customers_orders_come_newest_first_page_by_page(repository: OrderRepository) -> None:
    for i in range(7):  # one batch each, so the save order is known; two customers mixed
        repository.save_many([of_customer(i, "alice" if i % 3 else "bob")])
    first = repository.customer_documents("alice", limit=3)
    assert [s.document for s in first] == [of_customer(i, "alice").document for i in (5, 4, 2)]
    positions = [s.position for s in first]
    assert positions == sorted(positions, reverse=True)
    assert min(positions) >= 1
    rest = repository.customer_documents("alice", limit=3, before=positions[-1])
    assert [s.document for s in rest] == [of_customer(1, "alice").document]
    assert repository.customer_documents("alice", limit=3, before=rest[-1].position) == []
    assert len(repository.customer_documents("bob", limit=10)) == 3


def test_a_customers_list_matches_the_id_exactly(repository: OrderRepository) -> None:
    repository.save_many([of_customer(1, "Alice"), of_customer(2, "alice "), of_customer(3, "")])
    assert repository.customer_documents("alice", limit=10) == []
    assert [s.document for s in repository.customer_documents("Alice", limit=10)] == [
        of_customer(1, "Alice").document
    ]


def test_an_order_saved_again_keeps_its_place(repository: OrderRepository) -> None:
    repository.save_many([of_customer(1, "carol")])
    repository.save_many([of_customer(2, "carol")])
    before = repository.customer_documents("carol", limit=10)
    repository.save_many([of_customer(1, "carol"), of_customer(3, "carol")])
    after = repository.customer_documents("carol", limit=10)
    assert after[1:] == before
    assert after[0].position > before[0].position


def test_ping_answers_when_the_store_does(repository: OrderRepository) -> None:
    repository.ping()


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(orders(), min_size=1, max_size=5))
def test_any_valid_orders_come_back_byte_for_byte(
    repository: OrderRepository, batch: list[Order]
) -> None:
    # Examples share the repository: a fresh id each, so an earlier one cannot answer.
    unique = [attrs.evolve(o, order_uid=uuid.uuid4().hex) for o in batch]
    repository.save_many([encoded(o) for o in unique])
    for order in unique:
        assert repository.get_document(order.order_uid) == encode_order(order)
