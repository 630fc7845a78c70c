"""A minimal asyncio HTTP/1.1 client for the visibility poller: a pool of keep-alive
connections to the service's loopback port, one ``GET /order?id=`` on each at a time,
returning the status and the moment the response had been read.
"""

from __future__ import annotations

import asyncio
import time


class KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive client: a pool of connections, one GET each at a time."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self.requests = 0

    async def open(self, count: int) -> None:
        for _ in range(count):
            self._free.put_nowait(await asyncio.open_connection("127.0.0.1", self._port))

    async def close(self) -> None:
        while not self._free.empty():
            _, writer = self._free.get_nowait()
            writer.close()

    async def get(self, order_uid: str) -> tuple[int, float]:
        """The status of GET /order?id=..., and when its response had been read."""
        reader, writer = await self._free.get()
        try:
            writer.write(f"GET /order?id={order_uid} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
        except BaseException:
            writer.close()
            self._free.put_nowait(await asyncio.open_connection("127.0.0.1", self._port))
            raise
        self._free.put_nowait((reader, writer))
        self.requests += 1
        return status, time.monotonic()
