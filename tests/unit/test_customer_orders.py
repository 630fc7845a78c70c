"""A customer's orders page by page (order_core.customer_orders) on the in-memory store."""

from __future__ import annotations

import re

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory_repository import InMemoryOrderRepository
from order_core import CustomerOrders, EncodedOrder, InvalidPageRequest, encode_order
from order_core.customer_orders import (
    CURSOR_PATTERN,
    MAX_PAGE_SIZE,
    decode_cursor,
    encode_cursor,
)
from order_core.schema import BIGINT_MAX, MAX_TEXT_LENGTH
from tests.contracts.repository import BASE


def saved(repository: InMemoryOrderRepository, customers: list[str]) -> list[str]:
    """Save one order per customer named, in that order; return their ids."""
    ids = []
    for i, customer in enumerate(customers):
        order = attrs.evolve(BASE, order_uid=f"o{i}", customer_id=customer)
        repository.save_many([EncodedOrder(order, encode_order(order))])
        ids.append(order.order_uid)
    return ids


def uids(documents: tuple[bytes, ...]) -> list[str]:
    return [doc.split(b'"order_uid":"')[1].split(b'"')[0].decode() for doc in documents]


@given(st.integers(0, BIGINT_MAX))
def test_a_cursor_gives_back_its_position_and_has_the_documented_shape(position: int) -> None:
    cursor = encode_cursor(position)
    assert re.fullmatch(CURSOR_PATTERN, cursor)
    assert decode_cursor(cursor) == position


@given(st.from_regex(CURSOR_PATTERN, fullmatch=True))
def test_every_text_of_the_documented_shape_is_a_cursor(cursor: str) -> None:
    assert encode_cursor(decode_cursor(cursor)) == cursor


@given(st.text(max_size=30))
def test_any_other_text_is_refused_as_a_cursor(text: str) -> None:
    try:
        position = decode_cursor(text)
    except InvalidPageRequest:
        return
    assert encode_cursor(position) == text  # only the one text encode_cursor makes for it


@pytest.mark.parametrize(
    "cursor",
    ["", "AAAAAAAAAAQ=", "AAAAAAAAAAR", "gAAAAAAAAAA", "AAAAAAAAAAé", "AAAAAAAAAAQ\n", "1 2"],
)
def test_malformed_and_out_of_range_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidPageRequest):
        decode_cursor(cursor)


def test_pages_follow_each_other_newest_first_until_the_last() -> None:
    repository = InMemoryOrderRepository()
    ids = saved(repository, ["ann", "bob"] * 5)
    listing = CustomerOrders(repository)
    first = listing.page("ann", limit=2)
    assert uids(first.documents) == [ids[8], ids[6]]
    assert first.cursor is not None
    second = listing.page("ann", limit=2, after=first.cursor)
    assert uids(second.documents) == [ids[4], ids[2]]
    last = listing.page("ann", limit=2, after=second.cursor)
    assert uids(last.documents) == [ids[0]]
    assert last.cursor is None


def test_a_page_that_ends_exactly_at_the_last_order_has_no_cursor() -> None:
    repository = InMemoryOrderRepository()
    saved(repository, ["ann"] * 4)
    page = CustomerOrders(repository).page("ann", limit=4)
    assert len(page.documents) == 4
    assert page.cursor is None


def test_orders_saved_between_pages_neither_repeat_nor_skip() -> None:
    repository = InMemoryOrderRepository()
    saved(repository, ["ann"] * 3)
    listing = CustomerOrders(repository)
    first = listing.page("ann", limit=2)
    newer = attrs.evolve(BASE, order_uid="newer", customer_id="ann")
    repository.save_many([EncodedOrder(newer, encode_order(newer))])
    rest = listing.page("ann", limit=2, after=first.cursor)
    assert uids(first.documents) + uids(rest.documents) == ["o2", "o1", "o0"]


def test_an_unknown_customer_has_an_empty_last_page() -> None:
    page = CustomerOrders(InMemoryOrderRepository()).page("nobody")
    assert page.documents == ()
    assert page.cursor is None


@pytest.mark.parametrize(
    ("customer_id", "limit", "after", "parameter"),
    [
        ("", 10, None, "customer_id"),
        ("x" * (MAX_TEXT_LENGTH + 1), 10, None, "customer_id"),
        ("a\x00b", 10, None, "customer_id"),
        ("ann", 0, None, "limit"),
        ("ann", MAX_PAGE_SIZE + 1, None, "limit"),
        ("ann", 10, "not-a-cursor", "after"),
    ],
)
def test_bad_requests_name_their_parameter(
    customer_id: str, limit: int, after: str | None, parameter: str
) -> None:
    with pytest.raises(InvalidPageRequest) as caught:
        CustomerOrders(InMemoryOrderRepository()).page(customer_id, limit, after)
    assert caught.value.parameter == parameter
    assert str(caught.value).startswith(f"'{parameter}' ")


def test_the_longest_customer_id_and_the_largest_page_are_fine() -> None:
    page = CustomerOrders(InMemoryOrderRepository()).page("x" * MAX_TEXT_LENGTH, MAX_PAGE_SIZE)
    assert page.documents == ()
