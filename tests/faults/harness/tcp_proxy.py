"""A network fault: a TCP proxy that can stop relaying, as a link that drops every packet.

Connections to ``address`` are relayed to the target. ``blackhole()`` stops relaying in
both directions and holds every byte, on the open connections and on new ones (accepted,
never connected onward), without closing anything: to both ends the network has gone
silent, as with a DROP rule. ``restore()`` relays again: new connections go through; the
connections opened before stay silent (their bytes were dropped, as a real link would),
so the client must notice and reconnect.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = self._listener.getsockname()
        self._silent = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._doomed: set[int] = set()  # connections open when the link went silent
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.address[1])

    def blackhole(self) -> None:
        with self._lock:
            self._silent.set()
            self._doomed.update(id(s) for s in self._sockets)

    def restore(self) -> None:
        self._silent.clear()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            with self._lock:
                self._sockets.append(client)
                if self._silent.is_set():
                    self._doomed.add(id(client))
                    continue  # accepted, never connected onward: silence
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.append(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._relay, args=(source, sink, client), daemon=True
                ).start()

    def _relay(self, source: socket.socket, sink: socket.socket, client: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            if self._silent.is_set() or id(client) in self._doomed:
                with self._lock:
                    self._doomed.add(id(client))
                continue  # dropped
            try:
                sink.sendall(data)
            except OSError:
                return
