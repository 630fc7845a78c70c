"""What an order id may look like, checked before an id reaches a cache key or a query."""

from __future__ import annotations

import re

from order_core.errors import InvalidOrderId

MAX_ORDER_UID_LENGTH = 64
# Letters, digits, '-', '_', '.': safe as a Memcached key (no spaces or control characters)
# and in a URL path segment without escaping.
_ORDER_UID = re.compile(r"[A-Za-z0-9_.\-]+")


def order_uid_problem(value: str) -> str | None:
    """Say what is wrong with ``value`` as an order id, or None when it is fine."""
    if not value:
        return "must not be empty"
    if len(value) > MAX_ORDER_UID_LENGTH:
        return f"must be at most {MAX_ORDER_UID_LENGTH} characters"
    if not _ORDER_UID.fullmatch(value):
        return "may hold only letters, digits, '-', '_' and '.'"
    return None


def check_order_uid(value: str) -> str:
    """Return ``value`` when it is a valid order id, else raise InvalidOrderId."""
    problem = order_uid_problem(value)
    if problem is not None:
        raise InvalidOrderId(f"order id {problem}")
    return value
