"""Builds the Starlette app; its lifespan opens and closes everything the app uses."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from adapters.telemetry.prometheus import request_served
from entrypoints.container import HttpDependencies
from entrypoints.http import customer_orders, dead_letters, errors, openapi, ops, orders
from entrypoints.http.lookups import AsyncLookup
from entrypoints.http.timing import RequestTiming
from entrypoints.worker import ConsumerThread, WarmUp

STATIC = Path(__file__).resolve().parent.parent / "static"
log = logging.getLogger(__name__)


async def index(request: Request) -> Response:
    # The page has no inline script, so it can forbid any script not served by us.
    return FileResponse(
        STATIC / "index.html",
        headers={"Cache-Control": "no-cache", "Content-Security-Policy": "default-src 'self'"},
    )


@attrs.frozen
class FastLookup:
    """A lookup route, answered before routing: the path it takes, the id in the request."""

    template: str
    matches: Callable[[str], bool]  # the path (already percent-decoded)
    order_uid: Callable[[Scope], str | None]
    endpoint: Callable[[Request], Awaitable[Response]]  # the same, through the router


def _by_query(scope: Scope) -> str | None:
    return orders.id_from_query(scope["query_string"])


def _one_segment_under_orders(path: str) -> bool:
    return path.startswith("/orders/") and len(path) > 8 and "/" not in path[8:]


def _by_path(scope: Scope) -> str | None:
    return str(scope["path"])[8:]


LOOKUPS = (
    FastLookup("/order", "/order".__eq__, _by_query, orders.order_by_query),
    FastLookup("/orders/{order_uid}", _one_segment_under_orders, _by_path, orders.order_by_path),
)


_BY_QUERY, _BY_PATH = LOOKUPS


def _fast_lookup(path: str) -> FastLookup | None:
    # The table's two entries tried inline: this runs for every request.
    if _BY_QUERY.matches(path):
        return _BY_QUERY
    if _BY_PATH.matches(path):
        return _BY_PATH
    return None


class OrderServiceApp(Starlette):
    """Starlette, with order lookups (``LOOKUPS``, the same routes as the table's) answered
    before routing: the hot path of the service skips the router, the middleware and the
    request and response objects."""

    lookups: AsyncLookup | None = None  # set by the lifespan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lookups, lookup = self.lookups, None
        if lookups is not None and scope["type"] == "http" and scope["method"] == "GET":
            lookup = _fast_lookup(scope["path"])
        if lookups is None or lookup is None:
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        if_none_match = traceparent = b""
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value
            elif name == b"traceparent":
                traceparent = value
        try:
            result = await orders.answer(
                lookups, lookup.order_uid(scope), if_none_match, traceparent
            )
        except Exception:
            # As the routed app answers an error it did not expect: logged, and a 500 in
            # the one error shape (never the request run a second time).
            log.exception("unhandled error on GET %s", lookup.template)
            result = orders.INTERNAL_ERROR
        length = (b"content-length", str(len(result.body)).encode())
        await send(
            {
                "type": "http.response.start",
                "status": result.status,
                "headers": [*result.headers, length],
            }
        )
        await send({"type": "http.response.body", "body": result.body})
        request_served(lookup.template, "GET", result.status, time.perf_counter() - started)


def create_app(
    dependencies: HttpDependencies | Callable[[], HttpDependencies],
) -> OrderServiceApp:
    """The HTTP app; with a worker among its dependencies it also consumes Kafka in a
    background thread. Given a function, the dependencies are built when the app starts
    (its lifespan), so pools and clients open and close with it."""

    @contextlib.asynccontextmanager
    async def lifespan(app: OrderServiceApp) -> AsyncIterator[None]:
        built = dependencies if isinstance(dependencies, HttpDependencies) else dependencies()
        settings = built.settings
        app.state.dependencies = built
        app.state.lookups = app.lookups = AsyncLookup(
            built.lookup,
            cache_threads=settings.http_cache_threads,
            repository_threads=settings.db_pool_size,
            tracing=built.tracing,
        )
        worker = built.worker
        consumer = ConsumerThread(worker) if worker is not None else None
        app.state.consumer_thread = consumer
        WarmUp(built.cache_admin).start(settings.warm_up_orders, settings.warm_up_timeout)
        if consumer is not None:
            consumer.start()
        try:
            yield
        finally:
            if consumer is not None:
                consumer.stop()
            app.lookups.close()
            built.close()

    routes = [
        Route("/", index),
        *(Route(lookup.template, lookup.endpoint) for lookup in LOOKUPS),
        Route("/orders", customer_orders.orders_of_customer),
        Route("/openapi.json", openapi.openapi_json),
        Route("/healthz", ops.healthz),
        Route("/readyz", ops.readyz),
        Route("/metrics", ops.metrics),
        Route("/admin/cache/reset", ops.cache_reset, methods=["POST"]),
        Route("/admin/cache/warm", ops.cache_warm, methods=["POST"]),
        Route("/admin/dead-letters", dead_letters.latest_dead_letters),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return OrderServiceApp(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(RequestTiming)],
        exception_handlers={
            HTTPException: errors.http_exception,
            Exception: errors.unexpected_exception,
        },
    )
