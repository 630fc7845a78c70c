"""Builds the Starlette app; its lifespan opens and closes everything the app uses."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from adapters.prometheus_telemetry import unwatch, watch_consumer
from entrypoints.background import ConsumerThread, WarmUp
from entrypoints.container import Container
from entrypoints.http import errors, openapi, ops, orders
from entrypoints.http.lookups import AsyncLookup
from entrypoints.http.timing import RequestTiming

STATIC = Path(__file__).resolve().parent.parent / "static"


async def index(request: Request) -> Response:
    # The page has no inline script, so it can forbid any script not served by us.
    return FileResponse(
        STATIC / "index.html",
        headers={"Cache-Control": "no-cache", "Content-Security-Policy": "default-src 'self'"},
    )


def create_app(container: Container, *, run_consumer: bool = False) -> Starlette:
    """The HTTP app; with ``run_consumer`` it also consumes Kafka in a background thread."""
    settings = container.settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.container = container
        app.state.lookups = AsyncLookup(
            container.lookup(),
            cache_threads=settings.http_cache_threads,
            repository_threads=settings.db_pool_size,
        )
        consumer = ConsumerThread(container) if run_consumer else None
        app.state.consumer_thread = consumer
        collector = watch_consumer(lambda: None if consumer is None else consumer.state)
        WarmUp(container).start(settings.warm_up_orders, settings.warm_up_timeout)
        if consumer is not None:
            consumer.start()
        try:
            yield
        finally:
            if consumer is not None:
                consumer.stop()
            unwatch(collector)
            container.shutdown_resources()

    routes = [
        Route("/", index),
        Route("/order", orders.order_by_query),
        Route("/orders/{order_uid}", orders.order_by_path),
        Route("/openapi.json", openapi.openapi_json),
        Route("/healthz", ops.healthz),
        Route("/readyz", ops.readyz),
        Route("/metrics", ops.metrics),
        Route("/admin/cache/reset", ops.cache_reset, methods=["POST"]),
        Route("/admin/cache/warm", ops.cache_warm, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(RequestTiming)],
        exception_handlers={
            HTTPException: errors.http_exception,
            Exception: errors.unexpected_exception,
        },
    )
