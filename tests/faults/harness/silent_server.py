"""A cache fault: a server that accepts connections and never answers."""

from __future__ import annotations

import socket
import threading


class SilentServer:
    """A TCP server that accepts connections and never answers: a hung cache server.

    It reads what it is sent, so a test can tell the moment a request arrives
    (``wait_for_request``): a cache write arrives only after a database commit.
    """

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self._open: list[socket.socket] = []
        self.requests = 0
        self._request = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            self._open.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.requests += 1
            self._request.set()  # read, never answered

    def wait_for_request(self, timeout: float) -> bool:
        """Wait for the next request to arrive; False after ``timeout`` without one."""
        arrived = self._request.wait(timeout)
        self._request.clear()
        return arrived

    def close(self) -> None:
        self._sock.close()
        for conn in self._open:
            conn.close()

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
