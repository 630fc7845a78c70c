"""A small HTTP server for a process without the web app (``consume``): /healthz, /readyz
and /metrics, so that probes and Prometheus see consumers as they see the HTTP side.

The request head is bounded as the web app's is (``MAX_HEAD_BYTES`` for the request line
and headers, 431 beyond): http.server alone would read up to 64 KiB a line and 100 lines.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec

from adapters.telemetry.prometheus import metrics_exposition
from entrypoints.http.bodies import Error, ErrorDetail
from entrypoints.http.bounded_protocol import HEAD_TOO_LARGE, MAX_HEAD_BYTES
from entrypoints.readiness import Report


class _HeadTooLarge(Exception):
    pass


class _HeadBudget:
    """The connection's reader, letting one request's line and headers take at most
    ``MAX_HEAD_BYTES``: a line is never read past what is left."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.left = MAX_HEAD_BYTES

    def readline(self, limit: int = -1) -> bytes:
        size = self.left + 1 if limit < 0 else min(limit, self.left + 1)
        line: bytes = self._raw.readline(size)
        self.left -= len(line)
        if self.left < 0:
            raise _HeadTooLarge
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def start_ops_server(
    host: str, port: int, alive: Callable[[], Report], ready: Callable[[], Report]
) -> ThreadingHTTPServer:
    """Serve in a daemon thread until ``shutdown()``."""

    class Handler(BaseHTTPRequestHandler):
        def setup(self) -> None:
            super().setup()
            self.budget = _HeadBudget(self.rfile)
            self.rfile = self.budget  # type: ignore[assignment]

        def handle_one_request(self) -> None:
            self.budget.left = MAX_HEAD_BYTES
            try:
                super().handle_one_request()
            except _HeadTooLarge:
                self.wfile.write(HEAD_TOO_LARGE)
                self.close_connection = True

        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, *metrics_exposition())
            elif self.path in ("/healthz", "/readyz"):
                report = alive() if self.path == "/healthz" else ready()
                body = msgspec.json.encode(report.body())
                self._send(200 if report.ok else 503, body, "application/json")
            else:
                missing = Error(ErrorDetail("not_found", "no such path"))
                self._send(404, msgspec.json.encode(missing), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # probes every few seconds would drown the log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="ops-http", daemon=True).start()
    return server
