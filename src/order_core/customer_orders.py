"""A customer's orders, newest first, one page at a time (keyset pagination).

A page ends with a cursor for the next one. The cursor is opaque to clients (they send
back what they got); inside it is the position of the page's last order, so the next page
starts right after it: every page costs the same however deep, and orders saved meanwhile
neither repeat nor push others onto the next page.
"""

from __future__ import annotations

import base64
import re
from typing import Final

import attrs

from order_core.errors import InvalidPageRequest
from order_core.ports import OrderRepository
from order_core.schema import MAX_TEXT_LENGTH

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_POSITION_BYTES = 8  # a bigint
# Every cursor, and nothing else: 8 bytes in unpadded base64url, the top bit clear (a
# bigint is never negative) and the last character's two spare bits zero (canonical).
# The API document gives it so that clients and fuzzers know a cursor's shape.
CURSOR_PATTERN: Final = r"^[A-Za-f][A-Za-z0-9_-]{9}[AEIMQUYcgkosw048]$"


@attrs.frozen
class OrderPage:
    """One page of a customer's orders: their documents, newest first, and the cursor of
    the next page (None on the last)."""

    documents: tuple[bytes, ...]
    cursor: str | None


def customer_id_problem(value: str) -> str | None:
    """What is wrong with ``value`` as a customer id to list, or None when it is fine.

    The bound is the schema's: no stored order has a longer or a NUL-holding customer_id.
    An empty customer_id names no customer, so it is not listed either.
    """
    if not value:
        return "must not be empty"
    if len(value) > MAX_TEXT_LENGTH:
        return f"must be at most {MAX_TEXT_LENGTH} characters"
    if "\x00" in value:
        return "must not contain NUL characters"
    return None


def encode_cursor(position: int) -> str:
    raw = position.to_bytes(_POSITION_BYTES, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> int:
    """The position inside a cursor; InvalidPageRequest unless it has a cursor's shape."""
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        raise InvalidPageRequest("after", "is not a cursor this service gave out")
    return int.from_bytes(base64.urlsafe_b64decode(cursor + "="), "big")


class CustomerOrders:
    """Lists a customer's orders from the repository (the source of truth, not the cache:
    a list is not a single order the cache could hold)."""

    def __init__(self, repository: OrderRepository) -> None:
        self._repository = repository

    def page(
        self, customer_id: str, limit: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> OrderPage:
        """Raises InvalidPageRequest for a bad customer id, limit or cursor, and the
        repository's errors (RepositoryUnavailable, RepositoryFailed)."""
        problem = customer_id_problem(customer_id)
        if problem is not None:
            raise InvalidPageRequest("customer_id", problem)
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidPageRequest("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
        before = None if after is None else decode_cursor(after)
        # One more than asked tells whether another page follows, without a count.
        found = self._repository.customer_documents(customer_id, limit + 1, before)
        shown = found[:limit]
        cursor = encode_cursor(shown[-1].position) if len(found) > limit else None
        return OrderPage(tuple(saved.document for saved in shown), cursor)
