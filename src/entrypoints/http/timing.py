"""Request latency by route template and status, for the fast path and the middleware."""

from __future__ import annotations

import time

from prometheus_client.metrics import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.telemetry.prometheus import HTTP_SECONDS

_children: dict[tuple[str, str, int], Histogram] = {}


def observe(route: str, method: str, status: int, seconds: float) -> None:
    """Record one request; the labelled child is looked up once per (route, method, status)."""
    key = (route, method, status)
    child = _children.get(key)
    if child is None:
        child = _children[key] = HTTP_SECONDS.labels(route, method, str(status))
    child.observe(seconds)


class RequestTiming:
    """ASGI middleware timing every request the fast path does not answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            # The route's template, not the raw path: ids must not become label values.
            name = getattr(route, "path", None) or "unmatched"
            observe(name, scope["method"], status, time.perf_counter() - started)
