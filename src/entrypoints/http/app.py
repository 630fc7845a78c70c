"""Builds the Starlette app; its lifespan opens and closes everything the app uses."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from entrypoints.container import HttpDependencies
from entrypoints.http import customer_orders, dead_letters, errors, openapi, ops, orders
from entrypoints.http.lookups import AsyncLookup
from entrypoints.http.timing import RequestTiming, observe
from entrypoints.worker import ConsumerThread, WarmUp

STATIC = Path(__file__).resolve().parent.parent / "static"


async def index(request: Request) -> Response:
    # The page has no inline script, so it can forbid any script not served by us.
    return FileResponse(
        STATIC / "index.html",
        headers={"Cache-Control": "no-cache", "Content-Security-Policy": "default-src 'self'"},
    )


class OrderServiceApp(Starlette):
    """Starlette, with order lookups answered before routing: the hot path of the service
    skips the router, the middleware and the request and response objects."""

    lookups: AsyncLookup | None = None  # set by the lifespan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.lookups is None or scope["type"] != "http" or scope["method"] != "GET":
            await super().__call__(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/order":
            route, order_uid = "/order", orders.id_from_query(scope["query_string"])
        elif path.startswith("/orders/") and len(path) > 8 and "/" not in path[8:]:
            route, order_uid = "/orders/{order_uid}", path[8:]  # already percent-decoded
        else:
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
            result = await orders.answer(self.lookups, order_uid, if_none_match, traceparent)
        except Exception:
            await super().__call__(scope, receive, send)  # the app's own error handling
            return
        length = (b"content-length", str(len(result.body)).encode())
        await send(
            {
                "type": "http.response.start",
                "status": result.status,
                "headers": [*result.headers, length],
            }
        )
        await send({"type": "http.response.body", "body": result.body})
        observe(route, "GET", result.status, time.perf_counter() - started)


def create_app(dependencies: HttpDependencies) -> OrderServiceApp:
    """The HTTP app; with a worker among its dependencies it also consumes Kafka in a
    background thread."""
    settings = dependencies.settings

    @contextlib.asynccontextmanager
    async def lifespan(app: OrderServiceApp) -> AsyncIterator[None]:
        app.state.dependencies = dependencies
        app.state.lookups = app.lookups = AsyncLookup(
            dependencies.lookup,
            cache_threads=settings.http_cache_threads,
            repository_threads=settings.db_pool_size,
            tracing=dependencies.tracing,
        )
        worker = dependencies.worker
        consumer = ConsumerThread(worker) if worker is not None else None
        app.state.consumer_thread = consumer
        WarmUp(dependencies.cache_admin).start(settings.warm_up_orders, settings.warm_up_timeout)
        if consumer is not None:
            consumer.start()
        try:
            yield
        finally:
            if consumer is not None:
                consumer.stop()
            app.lookups.close()
            dependencies.close()

    routes = [
        Route("/", index),
        Route("/order", orders.order_by_query),
        Route("/orders", customer_orders.orders_of_customer),
        Route("/orders/{order_uid}", orders.order_by_path),
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
