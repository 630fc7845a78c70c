"""What a test measures and reports: its figures, HTTP requests timed, Prometheus samples.

``Figures`` are a test's figures (the conftest prints them and writes them to ``ARTIFACTS``,
test-artifacts/faults, where the process logs go too); ``HttpLoad`` times every request sent
to the service while faults land, ``latency_figures`` sums them up and ``write_samples``
keeps them all; ``metric`` and ``has_metric`` read the service's Prometheus text.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "faults"


class Figures:
    """A test's figures: printed in one line and written to test-artifacts/faults/<test>.txt."""

    def __init__(self, test: str) -> None:
        self.test = test
        self.values: dict[str, object] = {}

    def record(self, **values: object) -> None:
        self.values.update(values)

    def line(self) -> str:
        def shown(value: object) -> str:
            return f"{value:.3f}" if isinstance(value, float) else str(value)

        return f"{self.test}: " + " ".join(f"{k}={shown(v)}" for k, v in self.values.items())


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (share in 0..1) of the values; nan when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@attrs.frozen
class Sample:
    started: float  # monotonic
    seconds: float
    status: int  # 0: the request failed (connection lost, no answer within the timeout)


class HttpLoad:
    """``concurrency`` loops of GET requests against one server, each on a keep-alive
    connection of its own, in a thread with its own event loop (raw HTTP/1.1 over asyncio:
    light, so that the client leaves the machine's CPU to the server). Each loop asks for
    ``path(rng)``, then pauses ``pause`` seconds. Every answer is a ``Sample``."""

    def __init__(
        self,
        port: int,
        path: Callable[[random.Random], str],
        concurrency: int,
        pause: float = 0.0,
        timeout: float = 10.0,
        seed: int = 0,
    ) -> None:
        self.samples: list[Sample] = []
        self._port, self._path, self._pause, self._timeout = port, path, pause, timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(concurrency, seed),))
        self._thread.daemon = True
        self._thread.start()

    async def _main(self, concurrency: int, seed: int) -> None:
        await asyncio.gather(*(self._loop(random.Random(seed + i)) for i in range(concurrency)))

    async def _loop(self, rng: random.Random) -> None:
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                if connection is None:
                    connection = await asyncio.open_connection("127.0.0.1", self._port)
                status = await asyncio.wait_for(
                    self._get(*connection, self._path(rng)), self._timeout
                )
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                status = 0
                if connection is not None:
                    connection[1].close()
                connection = None
            self.samples.append(Sample(started, time.monotonic() - started, status))
            if self._pause:
                await asyncio.sleep(self._pause)
        if connection is not None:
            connection[1].close()

    @staticmethod
    async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> int:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if length is None:
            raise ValueError(f"no content-length in {head[:200]!r}")
        await reader.readexactly(int(length.group(1)))
        return int(head.split(b" ", 2)[1])

    def between(self, start: float, end: float) -> list[Sample]:
        """The samples of the requests sent between two monotonic times."""
        return [s for s in list(self.samples) if start <= s.started < end]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self._timeout + 5)


def write_samples(test: str, **loads: HttpLoad) -> None:
    """Every sample of each load, as CSV in test-artifacts/faults/<test>.samples.csv."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    lines = ["load,started,seconds,status"]
    for name, load in loads.items():
        lines.extend(f"{name},{s.started:.6f},{s.seconds:.6f},{s.status}" for s in load.samples)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", test)
    (ARTIFACTS / f"{safe}.samples.csv").write_text("\n".join(lines) + "\n")


def latency_figures(samples: Sequence[Sample], name: str) -> dict[str, object]:
    """count, p50, p99 and max latency of some samples, in milliseconds, named ``name_*``."""
    seconds = [s.seconds for s in samples]
    return {
        f"{name}_n": len(samples),
        f"{name}_p50_ms": 1000 * percentile(seconds, 0.50),
        f"{name}_p99_ms": 1000 * percentile(seconds, 0.99),
        f"{name}_max_ms": 1000 * max(seconds, default=math.nan),
    }


def metric(text: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """A sample's value from Prometheus text output (0 when absent)."""
    wanted = name
    if labels:
        wanted += "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return 0.0


def has_metric(text: str, name: str) -> bool:
    """Whether the Prometheus text output has a sample of ``name`` (without labels)."""
    return any(line.startswith(name + " ") for line in text.splitlines())
