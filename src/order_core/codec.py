"""Orders to and from the bytes of a message or a cached document.

An order is parsed once, from the message, and encoded once, to the canonical JSON document
that is stored beside the rows and cached, so that a lookup can send bytes as they are.
"""

from __future__ import annotations

import orjson

from order_core.errors import FieldError, InvalidOrder
from order_core.model import Order


def decode_order(raw: bytes) -> Order:
    """Parse a message's bytes; raise InvalidOrder saying why it is not an order."""
    if not raw:
        raise InvalidOrder([FieldError("", "message is empty")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"message is not UTF-8: {exc.reason} at byte {exc.start}"
        raise InvalidOrder([FieldError("", reason)]) from None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidOrder([FieldError("", f"message is not JSON: {exc}")]) from None
    return Order.from_dict(data)


def encode_order(order: Order) -> bytes:
    """The canonical JSON document of an order (compact, in the sample's key order)."""
    return orjson.dumps(order.to_dict())
