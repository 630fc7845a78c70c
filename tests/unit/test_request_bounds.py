"""The request head is bounded, on a real socket: the web app with the service's own uvicorn
options, and the ops server of ``consume``."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import attrs
import orjson
import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st

from entrypoints.cli.service import uvicorn_options
from entrypoints.container import build_container, http_dependencies
from entrypoints.http.app import create_app
from entrypoints.http.bounded_protocol import MAX_HEAD_BYTES
from entrypoints.ops_server import start_ops_server
from entrypoints.readiness import Report
from entrypoints.settings import load
from tests.unit.conftest import IN_MEMORY

# The head of a GET /readyz without the padding header: request line, Host, the padding
# header's name and separators, and the blank line.
_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n"
_FIXED = len(_REQUEST) - 2


@attrs.frozen
class Server:
    port: int

    def exchange(self, raw: bytes, *, read_until_close: bool = False) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            # Refused before it was all sent: what is wanted for a huge head.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(raw)
            chunks = []
            while True:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
                if not read_until_close and b"\r\n\r\n" in b"".join(chunks):
                    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                    if len(body) >= length:
                        break
            return b"".join(chunks)


@pytest.fixture(scope="module")
def app_server() -> Iterator[Server]:
    service = load({}, IN_MEMORY)
    options = {**uvicorn_options(service), "host": "127.0.0.1", "port": 0}
    config = uvicorn.Config(create_app(http_dependencies(build_container(service))), **options)
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = running.servers[0].sockets[0].getsockname()[1]
    yield Server(port)
    running.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def ops_server() -> Iterator[Server]:
    alive = Report("health", True, {})
    running = start_ops_server("127.0.0.1", 0, alive=lambda: alive, ready=lambda: alive)
    yield Server(running.server_address[1])
    running.shutdown()
    running.server_close()


@pytest.fixture(scope="module", params=["app", "ops"])
def server(request: pytest.FixtureRequest) -> Server:
    found: Server = request.getfixturevalue(f"{request.param}_server")
    return found


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


@given(st.integers(0, 3 * MAX_HEAD_BYTES))
@settings(max_examples=40, deadline=None)
def test_a_head_within_the_bound_is_answered_and_one_over_it_is_431(
    server: Server, padding: int
) -> None:
    response = server.exchange(_REQUEST % (b"a" * padding))
    head_bytes = _FIXED + padding
    if head_bytes <= MAX_HEAD_BYTES:
        assert _status(response) == 200
    else:
        assert _status(response) == 431
        body = orjson.loads(response.partition(b"\r\n\r\n")[2])
        assert body["error"]["code"] == "request_header_fields_too_large"


def test_a_huge_header_is_refused_without_being_read(server: Server) -> None:
    started = time.monotonic()
    response = server.exchange(_REQUEST % (b"a" * 64 * 1024 * 1024), read_until_close=True)
    assert _status(response) == 431
    assert time.monotonic() - started < 10


def test_pipelined_requests_are_each_within_the_bound(app_server: Server) -> None:
    server = app_server  # (the ops server answers one request a connection: HTTP/1.0)
    count = 1000  # 1,000 small requests in one send: far over the bound together
    raw = (_REQUEST % b"p") * count
    assert len(raw) > 2 * MAX_HEAD_BYTES
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while received.count(b"HTTP/1.1 200") < count:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {received.count(b'HTTP/1.1 200')} answers"
            received += chunk
    assert b"431" not in received


@pytest.mark.parametrize("first", [b"", b"x" * 20_000], ids=["get", "post-with-body"])
def test_a_head_pipelined_behind_another_request_is_held_to_the_bound(
    app_server: Server, first: bytes
) -> None:
    """The second request's head arrives in the same read as the end of the first (after
    a small GET, or after a POST's body): it is refused as it would be alone."""
    if first:
        lead = b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
            len(first),
            first,
        )
    else:
        lead = _REQUEST % b"p"
    response = app_server.exchange(lead + _REQUEST % (b"a" * 30_000), read_until_close=True)
    statuses = [
        int(line.split(b" ", 2)[1])
        for line in response.split(b"\r\n")
        if line.startswith(b"HTTP/1.1 ")
    ]
    assert statuses[-1] == 431
    assert 200 not in statuses[1:]
