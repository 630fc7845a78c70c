"""The order schema: every message falls into "an order" or "InvalidOrder naming why".

The cases are generated from the model's own annotations: valid orders over the whole
valid space and at its edges, and for every field every kind of bad value, so that each
class of input is proved, not just a few examples of it.
"""

from __future__ import annotations

import copy
import typing
from datetime import UTC, datetime
from typing import Any

import attrs
import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from order_core import InvalidOrder, Order, codec, decode_order, encode_order
from order_core.explain import MAX_PROBLEMS, explain
from order_core.schema import EARLIEST, LATEST, MAX_ITEMS
from tests.conftest import SAMPLE_ID
from tests.strategies import CHARACTERS, extreme_orders, orders

dumps = msgspec.json.encode  # any integer, unlike orjson


def _leaves(
    cls: type, prefix: tuple[str | int, ...] = ()
) -> list[tuple[tuple[str | int, ...], Any]]:
    """Every field of the model as (path, annotated type); items through items[0]."""
    hints = typing.get_type_hints(cls, include_extras=True)
    found: list[tuple[tuple[str | int, ...], Any]] = []
    for field in attrs.fields(cls):
        hint = hints[field.name]
        base = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
        path = (*prefix, field.name)
        found.append((path, hint))
        if attrs.has(base):
            found.extend(_leaves(base, path))
        elif typing.get_origin(base) is tuple:
            found.extend(_leaves(typing.get_args(base)[0], (*path, 0)))
    return found


FIELDS = _leaves(Order)


def shown(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _meta(hint: Any, name: str) -> Any:
    for meta in typing.get_args(hint)[1:]:
        if isinstance(meta, msgspec.Meta) and getattr(meta, name) is not None:
            return getattr(meta, name)
    return None


def bad_values(hint: Any) -> st.SearchStrategy[Any]:
    """Values that break the field's type or bounds, of every kind."""
    base = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    wrong_json: st.SearchStrategy[Any] = st.sampled_from([None, True, [], {}, 1.5])
    if base is str:
        options: list[st.SearchStrategy[Any]] = [wrong_json, st.integers()]
        high = _meta(hint, "max_length")
        options.append(st.text(CHARACTERS, min_size=high + 1, max_size=high + 40))
        options.append(st.text(CHARACTERS, max_size=5).map(lambda t: t + "\x00"))
        if _meta(hint, "min_length"):
            options.append(st.just(""))
        if _meta(hint, "pattern"):
            options.append(st.text(" <>/\\é\t", min_size=1, max_size=10))
            options.append(st.text("abc", min_size=1, max_size=5).map(lambda t: t + "\n"))
        return st.one_of(options)
    if base is int:
        low, high = _meta(hint, "ge"), _meta(hint, "le")
        return st.one_of(
            wrong_json,
            st.text(max_size=5),
            st.integers(max_value=low - 1),
            st.integers(min_value=high + 1),
        )
    if base is datetime:
        return st.one_of(
            wrong_json,
            st.integers(),
            st.text(max_size=20),
            st.just("2021-11-26T06:22:19"),  # no time zone
            st.sampled_from(["1969-12-31T23:59:59Z", "9999-12-31T12:00:00Z"]),
        )
    if attrs.has(base):
        return st.one_of(wrong_json.filter(lambda v: v != {}), st.integers(), st.text())
    return st.one_of(st.sampled_from([None, {}, 1, "x", []]))  # items: wrong kind, or empty


def document(order: Order) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(encode_order(order))
    return data


def put(data: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    target: Any = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


def reasons(data: object) -> dict[str, str]:
    with pytest.raises(InvalidOrder) as info:
        decode_order(dumps(data))
    return {e.path: e.reason for e in info.value.errors}


# -- valid orders --------------------------------------------------------------------------


def test_sample_parses_exactly_as_shipped(sample_bytes: bytes) -> None:
    order = decode_order(sample_bytes)
    assert order.order_uid == SAMPLE_ID
    assert order.payment.request_id == ""
    assert order.payment.amount == 1817
    assert order.date_created == datetime(2021, 11, 26, 6, 22, 19, tzinfo=UTC)
    assert order.items[0].brand == "Vivienne Sabo"
    assert order.items_total == 317


def test_sample_serializes_to_the_same_json_in_the_same_key_order(sample_bytes: bytes) -> None:
    encoded = encode_order(decode_order(sample_bytes))
    assert orjson.loads(encoded) == orjson.loads(sample_bytes)
    assert list(orjson.loads(encoded)) == list(orjson.loads(sample_bytes))


@given(st.one_of(orders(), extreme_orders()))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_every_valid_order_round_trips_through_its_canonical_bytes(order: Order) -> None:
    encoded = encode_order(order)
    assert decode_order(encoded) == order
    assert encode_order(decode_order(encoded)) == encoded  # canonical: a fixed point


@given(orders(), st.dictionaries(st.text(max_size=10), st.integers(), max_size=3))
def test_unknown_fields_are_ignored_and_not_served(order: Order, extra: dict[str, int]) -> None:
    data = document(order)
    data.update({f"x-{k}": v for k, v in extra.items()})
    data["payment"]["surprise"] = True
    decoded = decode_order(dumps(data))
    assert decoded == order
    assert encode_order(decoded) == encode_order(order)


# -- invalid orders: each field, each kind of bad value -----------------------------------


@given(orders(), st.sampled_from(FIELDS), st.data())
@settings(max_examples=400)
def test_a_bad_value_in_any_field_is_rejected_naming_that_field(
    order: Order, field: tuple[tuple[str | int, ...], Any], data: st.DataObject
) -> None:
    path, hint = field
    value = data.draw(bad_values(hint), label=shown(path))
    doc = document(order)
    put(doc, path, value)
    found = reasons(doc)
    assert any(p == shown(path) or p.startswith(shown(path)) for p in found), found


@given(orders(), st.sampled_from(FIELDS))
def test_a_missing_field_is_rejected_as_required(
    order: Order, field: tuple[tuple[str | int, ...], Any]
) -> None:
    path, _ = field
    doc = document(order)
    target: Any = doc
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    assert reasons(doc)[shown(path)] == "is required"


def test_bounds_at_their_edges(sample_bytes: bytes) -> None:
    base = orjson.loads(sample_bytes)
    for field, ok, bad in [
        ("date_created", EARLIEST.isoformat(), "1969-12-31T23:59:59+00:00"),
        ("date_created", LATEST.isoformat(), "9999-12-30T00:00:01+00:00"),
        ("customer_id", "c" * 255, "c" * 256),
        ("order_uid", "u" * 64, "u" * 65),
    ]:
        good = copy.deepcopy(base)
        good[field] = ok
        decode_order(dumps(good))
        broken = copy.deepcopy(base)
        broken[field] = bad
        assert field in reasons(broken)
    many = copy.deepcopy(base)
    many["items"] = base["items"] * (MAX_ITEMS + 1)
    assert "items" in reasons(many)


def test_every_problem_is_reported_at_once(sample_bytes: bytes) -> None:
    data = orjson.loads(sample_bytes)
    data["payment"]["amount"] = -5
    data["items"][0]["price"] = "free"
    data["delivery"]["city"] = "Kiryat\x00"
    assert set(reasons(data)) == {"payment.amount", "items[0].price", "delivery.city"}


def test_problems_are_capped_so_dead_letters_stay_small(sample_bytes: bytes) -> None:
    data = orjson.loads(sample_bytes)
    data["items"] = [{"price": -1}] * 5000  # tens of thousands of problems
    with pytest.raises(InvalidOrder) as info:
        decode_order(dumps(data))
    assert len(info.value.errors) == MAX_PROBLEMS + 1
    assert len(str(info.value)) < 3000


# -- any bytes at all ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.one_of(st.binary(max_size=300), json_values.map(dumps)))
@settings(max_examples=300)
def test_any_bytes_are_an_order_or_invalid_never_an_error(raw: bytes) -> None:
    errors: tuple[object, ...] = ("",)
    try:
        decode_order(raw)
    except InvalidOrder as exc:
        errors = exc.errors
    assert errors
    assert all(str(e) for e in errors)


@given(orders(), st.sampled_from(FIELDS), json_values)
@settings(max_examples=400)
def test_the_fast_decoder_and_the_explanation_always_agree(
    order: Order, field: tuple[tuple[str | int, ...], Any], value: object
) -> None:
    path, _ = field
    doc = document(order)
    put(doc, path, value)
    problems = explain(doc)
    try:
        decode_order(dumps(doc))
        accepted = True
    except InvalidOrder:
        accepted = False
    assert accepted == (not problems), problems


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"\xff\xfe{}", "not UTF-8: invalid byte sequence at byte 0"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "must be an object, got array"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_undecodable_messages_say_why(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidOrder, match=reason):
        decode_order(raw)


@given(orders(), st.data())
def test_a_message_that_is_not_utf8_says_so_and_where(order: Order, data: st.DataObject) -> None:
    """Any valid order with a byte sequence UTF-8 forbids spliced in anywhere: the reason is
    decided by the service, so it is the same whichever JSON library version is installed."""
    raw = encode_order(order)
    at = data.draw(st.integers(0, len(raw)), label="at")
    bad = data.draw(st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe9", b"\x80"]))
    spliced = raw[:at] + bad + raw[at:]
    expected_offset = _utf8_error_offset(spliced)
    with pytest.raises(InvalidOrder) as caught:
        decode_order(spliced)
    assert (
        str(caught.value)
        == f"message is not UTF-8: invalid byte sequence at byte {expected_offset}"
    )


def _utf8_error_offset(raw: bytes) -> int:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    raise AssertionError("valid UTF-8")


@pytest.mark.parametrize(
    "library_error",
    [
        UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte"),  # msgspec < 0.23
        msgspec.DecodeError("Invalid UTF-8 encoded string"),  # msgspec 0.23
    ],
    ids=["UnicodeDecodeError", "DecodeError"],
)
def test_the_utf8_reason_does_not_hang_on_the_json_library(
    monkeypatch: pytest.MonkeyPatch, library_error: Exception
) -> None:
    """Whether msgspec raises UnicodeDecodeError (before 0.23) or DecodeError (0.23) for
    invalid UTF-8, the dead letter's reason is the same."""

    class Decoder:
        def decode(self, raw: bytes) -> object:
            raise library_error

    def decode(raw: bytes) -> object:
        raise library_error

    monkeypatch.setattr(codec, "_DECODER", Decoder())
    monkeypatch.setattr(msgspec.json, "decode", decode)
    raw = '{"order_uid": "caf\xe9"}'.encode("latin-1")
    with pytest.raises(
        InvalidOrder, match=r"^message is not UTF-8: invalid byte sequence at byte 18$"
    ):
        decode_order(raw)
