"""The order model: parsing validates with field paths; serializing round-trips."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given

from order_core import InvalidOrder, Order, decode_order, encode_order
from tests.conftest import SAMPLE_ID
from tests.strategies import orders


def sample_dict(sample_bytes: bytes) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(sample_bytes)
    return data


def reasons(data: object) -> dict[str, str]:
    with pytest.raises(InvalidOrder) as info:
        Order.from_dict(data)
    return {e.path: e.reason for e in info.value.errors}


def test_sample_parses_exactly_as_shipped(sample_bytes: bytes) -> None:
    order = decode_order(sample_bytes)
    assert order.order_uid == SAMPLE_ID
    assert order.payment.request_id == ""
    assert order.internal_signature == ""
    assert order.payment.amount == 1817
    assert order.date_created == datetime(2021, 11, 26, 6, 22, 19, tzinfo=UTC)
    assert order.items[0].brand == "Vivienne Sabo"
    assert order.items_total == 317


def test_sample_serializes_to_the_same_json(sample_bytes: bytes) -> None:
    encoded = encode_order(decode_order(sample_bytes))
    assert orjson.loads(encoded) == orjson.loads(sample_bytes)
    assert list(orjson.loads(encoded)) == list(orjson.loads(sample_bytes))  # key order too


@given(orders())
def test_parse_of_serialize_is_identity(order: Order) -> None:
    assert decode_order(encode_order(order)) == order
    assert Order.from_dict(order.to_dict()) == order


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (lambda d: d.pop("order_uid"), "order_uid", "is required"),
        (lambda d: d.update(order_uid=""), "order_uid", "must not be empty"),
        (lambda d: d.update(order_uid="a b"), "order_uid", "may hold only"),
        (lambda d: d.update(order_uid="x" * 65), "order_uid", "at most 64"),
        (lambda d: d.update(order_uid=7), "order_uid", "must be a string, got integer"),
        (lambda d: d["payment"].update(amount=-1), "payment.amount", "at least 0"),
        (lambda d: d["payment"].update(amount="1817"), "payment.amount", "must be an integer"),
        (lambda d: d["payment"].update(amount=True), "payment.amount", "got boolean"),
        (lambda d: d["payment"].update(amount=18.5), "payment.amount", "got number"),
        (lambda d: d["payment"].update(amount=2**63), "payment.amount", "at most"),
        (lambda d: d.update(items=[]), "items", "at least one item"),
        (lambda d: d.update(items={}), "items", "must be an array"),
        (lambda d: d["items"][0].pop("price"), "items[0].price", "is required"),
        (lambda d: d["items"][0].update(sale=101), "items[0].sale", "at most 100"),
        (lambda d: d.update(items=[5]), "items[0]", "must be an object"),
        (lambda d: d.update(delivery=None), "delivery", "must be an object, got null"),
        (lambda d: d.pop("delivery"), "delivery", "is required"),
        (lambda d: d["delivery"].update(city="Kiryat\x00"), "delivery.city", "NUL"),
        (lambda d: d.update(date_created="yesterday"), "date_created", "ISO 8601"),
        (lambda d: d.update(date_created="2021-11-26T06:22:19"), "date_created", "time zone"),
        (lambda d: d.update(track_number=""), "track_number", "must not be empty"),
    ],
)
def test_invalid_orders_name_the_field_and_reason(
    sample_bytes: bytes, change: Any, path: str, reason: str
) -> None:
    data = copy.deepcopy(sample_dict(sample_bytes))
    change(data)
    found = reasons(data)
    assert path in found, found
    assert reason in found[path]


def test_every_problem_is_reported_at_once(sample_bytes: bytes) -> None:
    data = sample_dict(sample_bytes)
    data["payment"]["amount"] = -5
    data["items"][0]["price"] = "free"
    assert set(reasons(data)) == {"payment.amount", "items[0].price"}


def test_unknown_fields_are_ignored_and_not_served(sample_bytes: bytes) -> None:
    data = sample_dict(sample_bytes)
    data["extra"] = {"anything": 1}
    data["payment"]["surprise"] = True
    order = Order.from_dict(data)
    served = orjson.loads(encode_order(order))
    assert "extra" not in served
    assert "surprise" not in served["payment"]
    assert order == decode_order(sample_bytes)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "must be an object, got array"),
        (b'"order"', "must be an object, got string"),
    ],
)
def test_undecodable_messages_say_why(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidOrder, match=reason):
        decode_order(raw)
