"""Order lookups: GET /order?id=ORDER_UID (the seed's form) and GET /orders/{order_uid}.

``answer`` is the one implementation, as plain status, headers and body. The app's raw
ASGI fast path (``OrderServiceApp``) sends it without Starlette's routing, request and
response objects, which is most of the cost of a cache hit; the Starlette routes send the
same answer for anything the fast path does not take.
"""

from __future__ import annotations

import zlib
from urllib.parse import parse_qsl

import attrs
import msgspec
from starlette.requests import Request
from starlette.responses import Response

from entrypoints.http.bodies import Error, ErrorDetail
from entrypoints.http.lookups import AsyncLookup
from order_core import InvalidOrderId, RepositoryUnavailable

# Orders never change once saved, so the client may keep a found one; "private": it holds
# a person's name, phone and address, so no shared cache (a proxy, a CDN) may keep it.
ORDER_CACHE_CONTROL = b"private, max-age=3600"
_JSON = (b"content-type", b"application/json")
_NO_STORE = (b"cache-control", b"no-store")


@attrs.frozen
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def _error(status: int, code: str, message: str, *extra: tuple[bytes, bytes]) -> Answer:
    body = msgspec.json.encode(Error(ErrorDetail(code, message)))
    return Answer(status, [_JSON, _NO_STORE, *extra], body)


INTERNAL_ERROR = _error(500, "internal", "internal error; it has been logged")


def id_from_query(query_string: bytes) -> str | None:
    # The common form, "id=" and a plain id, without the general parser.
    if query_string.startswith(b"id=") and not any(c in query_string for c in b"&%+;"):
        return query_string[3:].decode("latin-1")
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key == "id":
            return value
    return None


async def answer(
    lookups: AsyncLookup, order_uid: str | None, if_none_match: bytes, traceparent: bytes = b""
) -> Answer:
    """The whole answer to an order lookup, every outcome included."""
    if order_uid is None:
        return _error(400, "missing_id", "query parameter 'id' is required")
    try:
        document = await lookups.find(order_uid, traceparent)
    except InvalidOrderId as exc:
        return _error(400, "invalid_id", str(exc))
    except RepositoryUnavailable:
        return _error(
            503,
            "unavailable",
            "the order store is unavailable; try again shortly",
            (b"retry-after", b"5"),
        )
    if document is None:
        return _error(404, "not_found", f"no order with id {order_uid!r}")
    etag = etag_of(document)
    headers = [(b"etag", etag), (b"cache-control", ORDER_CACHE_CONTROL)]
    if if_none_match and etag in if_none_match:
        return Answer(304, headers, b"")
    return Answer(200, [_JSON, *headers], document)


def etag_of(document: bytes) -> bytes:
    """A strong ETag. An order's document never changes once stored, so it only has to
    tell documents apart, not resist forgery: length and CRC-32 do, at a tenth of a hash."""
    return b'"%x-%08x"' % (len(document), zlib.crc32(document))


def _response(result: Answer) -> Response:
    response = Response(result.body, status_code=result.status)
    response.raw_headers = [
        *((k, v) for k, v in response.raw_headers if k != b"content-type"),
        *result.headers,
    ]
    return response


async def order_by_query(request: Request) -> Response:
    return await _lookup(request, id_from_query(request.scope["query_string"]))


async def order_by_path(request: Request) -> Response:
    return await _lookup(request, request.path_params["order_uid"])


async def _lookup(request: Request, order_uid: str | None) -> Response:
    inm = request.headers.get("if-none-match", "").encode()
    traceparent = request.headers.get("traceparent", "").encode()
    return _response(await answer(request.app.state.lookups, order_uid, inm, traceparent))
