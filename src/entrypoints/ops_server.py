"""A small HTTP server for a process without the web app (``consume``): /healthz, /readyz
and /metrics, so that probes and Prometheus see consumers as they see the HTTP side."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec

from adapters.telemetry.prometheus import metrics_exposition
from entrypoints.http.bodies import Error, ErrorDetail
from entrypoints.readiness import Report


def start_ops_server(
    host: str, port: int, alive: Callable[[], Report], ready: Callable[[], Report]
) -> ThreadingHTTPServer:
    """Serve in a daemon thread until ``shutdown()``."""

    class Handler(BaseHTTPRequestHandler):
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
