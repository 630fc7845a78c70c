"""Orders to and from bytes: the message that brings one, the document that serves it.

Decoding has two paths over one schema (the model's annotations). The fast one is
msgspec decoding straight into the model, which stops at the first problem. Only when it
fails does ``explain`` walk the decoded JSON to name every problem at once, for the
dead-letter record. Both paths apply the same bounds, so they always agree on whether a
message is an order (a property test holds them to it).
"""

from __future__ import annotations

import msgspec

from order_core.errors import FieldError, InvalidOrder
from order_core.explain import explain
from order_core.model import Order

_DECODER = msgspec.json.Decoder(Order)
_ENCODER = msgspec.json.Encoder()
# PostgreSQL text cannot hold NUL, and JSON can only carry one escaped: a message without
# this sequence has no NUL anywhere (one with it may still be fine: the slow path decides).
_ESCAPED_NUL = b"\\u0000"
_UNDECODABLE = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError)


def decode_order(raw: bytes) -> Order:
    """Parse a message's bytes; raise InvalidOrder naming every problem found."""
    if not raw:
        raise InvalidOrder([FieldError("", "message is empty")])
    if _ESCAPED_NUL not in raw:
        try:
            return _DECODER.decode(raw)
        except _UNDECODABLE:
            pass
    problems = explain(_decode_json(raw))
    if problems:
        raise InvalidOrder(problems)
    try:
        return _DECODER.decode(raw)
    except _UNDECODABLE as exc:  # the two paths disagree: still never an order
        raise InvalidOrder([FieldError("", str(exc))]) from None


def encode_order(order: Order) -> bytes:
    """The canonical JSON document of an order (compact, in the sample's key order)."""
    return _ENCODER.encode(order)


def _decode_json(raw: bytes) -> object:
    """The JSON value of a message that is not an order, or InvalidOrder saying why not.

    Each class of reason is decided here, not read off the JSON library's exception: msgspec
    0.23 began to report invalid UTF-8 as a DecodeError where earlier versions raised
    UnicodeDecodeError, and a reason must not change with the library's version.
    """
    if (bad_byte := _first_invalid_utf8(raw)) is not None:
        reason = f"message is not UTF-8: invalid byte sequence at byte {bad_byte}"
    else:
        try:
            return msgspec.json.decode(raw)
        except RecursionError:
            reason = "message is not JSON this service reads: nested too deeply"
        except _UNDECODABLE as exc:  # the library's words are detail, not the class
            reason = f"message is not JSON: {exc}"
    raise InvalidOrder([FieldError("", reason)])


def _first_invalid_utf8(raw: bytes) -> int | None:
    """Offset of the first byte that is not valid UTF-8 (None when it all is)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return None
