"""What an order id may look like, checked before an id reaches a cache key or a query.

The rule is the schema's (``OrderUid``): the same one validates incoming orders.
"""

from __future__ import annotations

import msgspec

from order_core.errors import InvalidOrderId
from order_core.schema import MAX_ORDER_UID_LENGTH, OrderUid


def order_uid_problem(value: str) -> str | None:
    """Say what is wrong with ``value`` as an order id, or None when it is fine."""
    if not value:
        return "must not be empty"
    if len(value) > MAX_ORDER_UID_LENGTH:
        return f"must be at most {MAX_ORDER_UID_LENGTH} characters"
    try:
        msgspec.convert(value, OrderUid)
    except msgspec.ValidationError:
        return "may hold only letters, digits, '-', '_' and '.' (and not be '.' or '..')"
    return None


def check_order_uid(value: str) -> str:
    """Return ``value`` when it is a valid order id, else raise InvalidOrderId."""
    problem = order_uid_problem(value)
    if problem is not None:
        raise InvalidOrderId(f"order id {problem}")
    return value
