"""Order lookups: GET /order?id=ORDER_UID (the seed's form) and GET /orders/{order_uid}."""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

from entrypoints.http.errors import error_response
from entrypoints.http.lookups import AsyncLookup
from order_core import InvalidOrderId, RepositoryUnavailable

# Orders never change once saved, so a browser or proxy may keep a found one.
ORDER_CACHE_CONTROL = "public, max-age=3600"


async def order_by_query(request: Request) -> Response:
    order_uid = request.query_params.get("id")
    if order_uid is None:
        return error_response(400, "missing_id", "query parameter 'id' is required")
    return await _lookup(request, order_uid)


async def order_by_path(request: Request) -> Response:
    return await _lookup(request, request.path_params["order_uid"])


async def _lookup(request: Request, order_uid: str) -> Response:
    lookups: AsyncLookup = request.app.state.lookups
    try:
        document = await lookups.find(order_uid)
    except InvalidOrderId as exc:
        return error_response(400, "invalid_id", str(exc))
    except RepositoryUnavailable:
        return error_response(
            503,
            "unavailable",
            "the order store is unavailable; try again shortly",
            headers={"Retry-After": "5"},
        )
    if document is None:
        return error_response(404, "not_found", f"no order with id {order_uid!r}")
    etag = '"' + hashlib.blake2b(document, digest_size=12).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": ORDER_CACHE_CONTROL}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(document, media_type="application/json", headers=headers)
