"""Two reference apps for the lookup benchmark: what a cache hit could cost at best.

Both answer every request with the same order document and the same headers as the
service's ``GET /order`` (content-type, etag, cache-control, content-length), read once at
import from the file named by ``BENCH_BODY_FILE``; wrk drives them exactly as it drives the
service, on uvicorn with the service's server settings (uvloop, httptools, one worker):

- ``bare_asgi``: a raw ASGI callable, no framework: the ceiling of Python on this server;
- ``minimal_starlette``: one Starlette route returning a ``Response``: the cost of the
  framework's routing, request and response objects, without any of the service's work.

    uvicorn bench.reference_apps:bare_asgi --loop uvloop --http httptools --lifespan off
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

_FILE = os.environ.get("BENCH_BODY_FILE")
BODY = Path(_FILE).read_bytes() if _FILE else b'{"order_uid":"reference"}'
ETAG = b'"' + hashlib.blake2b(BODY, digest_size=12).hexdigest().encode() + b'"'
HEADERS = [
    (b"content-type", b"application/json"),
    (b"etag", ETAG),
    (b"cache-control", b"public, max-age=3600"),
    (b"content-length", str(len(BODY)).encode()),
]


async def bare_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


async def _order(request: Request) -> Response:
    return Response(
        BODY,
        media_type="application/json",
        headers={"etag": ETAG.decode(), "cache-control": "public, max-age=3600"},
    )


minimal_starlette = Starlette(routes=[Route("/order", _order)])
