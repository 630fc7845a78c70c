"""uvicorn's httptools protocol with a bound on the request head.

httptools (llhttp) buffers a header until it ends, however long: one ``GET /order`` with a
64 MiB ``If-None-Match`` was read whole and answered 200, and the worker grew by 66 MB for
it. Here the request line and headers of each request may take ``MAX_HEAD_BYTES`` in all;
beyond that the answer is 431 with the service's JSON error, and the connection is closed.
Bytes are fed to the parser at most the room left while a head is being read, so a head
over the bound is never held in full. A request pipelined behind another one on the same
connection may arrive in the same read as the end of the one before: its head is counted
as the parser reports it (its URL and headers), so it is held to the same bound, and held
in memory at most one read's worth beyond it.
"""

from __future__ import annotations

from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 16 * 1024
_BODY = orjson.dumps(
    {
        "error": {
            "code": "request_header_fields_too_large",
            "message": f"the request line and headers exceed {MAX_HEAD_BYTES} bytes",
        }
    }
)
HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/json\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + _BODY
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # between requests, or inside one's request line and headers
        self._head_bytes = 0  # raw bytes fed while in a head
        self._parsed_bytes = 0  # the current message's URL and headers, as parsed
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # answered 431 and closing: nothing more is read
        while data:
            if not self._in_head:
                super().data_received(data)
                return
            room = MAX_HEAD_BYTES - self._head_bytes
            if room <= 0:
                self._refuse()
                return
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            super().data_received(piece)
            if self.transport.is_closing():
                return

    def on_message_begin(self) -> None:
        self._parsed_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if self._counted(len(url)):
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._counted(len(name) + len(value) + 4):  # ": " and CRLF
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if not self._refused:
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        if not self._refused:
            super().on_message_complete()

    def _counted(self, size: int) -> bool:
        """Whether the head is still within the bound, with ``size`` more bytes of it."""
        self._parsed_bytes += size
        if self._parsed_bytes > MAX_HEAD_BYTES and not self._refused:
            self._refuse()
        return not self._refused

    def _refuse(self) -> None:
        if self._refused:
            return
        self._refused = True
        self.logger.warning("request head over %d bytes: 431", MAX_HEAD_BYTES)
        self.transport.write(HEAD_TOO_LARGE)
        self.transport.close()
