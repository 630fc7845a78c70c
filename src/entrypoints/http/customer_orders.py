"""GET /orders?customer_id=...&limit=...&after=...: a customer's orders, newest first.

The answer is ``{"customer_id": ..., "orders": [...], "next": cursor or null}``; send
``next`` back as ``after`` for the following page. The stored documents are spliced into
the body as they are, never decoded and encoded again.
"""

from __future__ import annotations

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response

from entrypoints.http.errors import error_response
from order_core import CustomerOrders, InvalidPageRequest, OrderPage, RepositoryUnavailable
from order_core.customer_orders import DEFAULT_PAGE_SIZE

MAX_LIMIT_DIGITS = 6  # more is out of range anyway; int() of a huge string is slow


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_PAGE_SIZE
    # ASCII digits only: int() would also take " 5", "1_0" and other scripts' digits.
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_LIMIT_DIGITS):
        raise InvalidPageRequest("limit", "must be a whole number")
    return int(text)


def page_body(customer_id: str, page: OrderPage) -> bytes:
    return b"".join(
        (
            b'{"customer_id":',
            orjson.dumps(customer_id),
            b',"orders":[',
            b",".join(page.documents),
            b'],"next":',
            orjson.dumps(page.cursor),
            b"}",
        )
    )


async def orders_of_customer(request: Request) -> Response:
    params = request.query_params
    customer_id = params.get("customer_id")
    if customer_id is None:
        return error_response(
            400, "missing_customer_id", "query parameter 'customer_id' is required"
        )
    listing: CustomerOrders = request.app.state.dependencies.customer_orders
    try:
        limit = _limit(params.get("limit"))
        page = await anyio.to_thread.run_sync(listing.page, customer_id, limit, params.get("after"))
    except InvalidPageRequest as exc:
        code = "invalid_cursor" if exc.parameter == "after" else f"invalid_{exc.parameter}"
        return error_response(400, code, str(exc))
    except RepositoryUnavailable:
        return error_response(
            503,
            "unavailable",
            "the order store is unavailable; try again shortly",
            headers={"Retry-After": "5"},
        )
    return Response(
        page_body(customer_id, page),
        media_type="application/json",
        # Personal data (private), and new orders may arrive at any time (no-cache).
        headers={"Cache-Control": "private, no-cache"},
    )
