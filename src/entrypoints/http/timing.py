"""Request latency by route template and status, for every request the fast path does
not answer (the fast path reports its own)."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.telemetry.prometheus import request_served


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
            request_served(name, scope["method"], status, time.perf_counter() - started)
