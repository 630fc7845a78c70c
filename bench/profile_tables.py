"""The profile of one process as markdown: its threads' CPU time, the GIL they held and where
they waited without it, then where the GIL time went (by the module of the leaf frame)
and the functions that held it longest.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence

import attrs

from bench.py_spy import Sample

# Where a leaf frame's file belongs; the first match wins. py-spy shortens file names to
# their package part ("psycopg/copy.py", "threading.py").
CATEGORIES = (
    ("psycopg", "psycopg (PostgreSQL driver)"),
    ("confluent_kafka", "Kafka client"),
    ("adapters/kafka/", "consumer loop (and librdkafka's C calls)"),
    ("order_core/codec", "decode/encode (msgspec)"),
    ("order_core/", "order_core (use cases)"),
    ("adapters/postgres/", "rows, repository"),
    ("adapters/", "cache and metrics adapters"),
    ("entrypoints/http/", "service HTTP code"),
    ("entrypoints/", "service entrypoints"),
    ("starlette/", "Starlette"),
    ("uvicorn/protocols/", "uvicorn HTTP protocol"),
    ("uvicorn/", "uvicorn server, event loop (uvloop, httptools: C)"),
    ("asyncio/", "uvicorn server, event loop (uvloop, httptools: C)"),
    ("anyio/", "anyio thread hand-off"),
    ("prometheus_client/", "Prometheus client"),
    ("concurrent/futures/", "thread pool, futures"),
    ("threading.py", "threads, locks, queues"),
    ("queue.py", "threads, locks, queues"),
)
WAITS = {  # the place a thread is in without the GIL, by the category of its leaf frame
    "psycopg (PostgreSQL driver)": "PostgreSQL",
    "consumer loop (and librdkafka's C calls)": "Kafka",
    "Kafka client": "Kafka",
    "thread pool, futures": "another thread",
    "threads, locks, queues": "another thread",
    "anyio thread hand-off": "another thread",
    "uvicorn server, event loop (uvloop, httptools: C)": "the network (event loop)",
}
WAIT_COLUMNS = ("PostgreSQL", "Kafka", "another thread", "the network (event loop)", "other")


def category(frame: str) -> str:
    where = frame.rsplit("(", 1)[-1]
    for needle, name in CATEGORIES:
        if needle in where:
            return name
    return "other"


@attrs.define
class Profile:
    target: str
    seconds: float
    throughput: str
    wall: list[Sample]
    gil: list[Sample]
    thread_cpu: dict[str, float]  # thread id -> CPU seconds over the window (/proc)

    @property
    def ticks(self) -> int:
        """Sampling instants: the samples of the thread seen most (it lived throughout)."""
        per_thread: collections.Counter[str] = collections.Counter()
        for s in self.wall:
            per_thread[s.thread] += s.count
        return max(per_thread.values(), default=0)

    def markdown(self) -> list[str]:
        ticks = self.ticks or 1
        gil_total = sum(s.count for s in self.gil) or 1
        cores = sum(self.thread_cpu.values()) / self.seconds
        return [
            f"#### {self.target}",
            "",
            f"{self.throughput} while profiled ({self.seconds:.1f} s, {ticks:,} sampling "
            f"instants). The process used **{cores:.2f} cores** on average; some thread held "
            f"the GIL **{gil_total / ticks:.0%}** of the time.",
            "",
            *self._threads(ticks),
            "",
            "Where the GIL time goes (the Python work, C called with the GIL held included; "
            "leaf frame's module):",
            "",
            *_rows(
                ["where", "% of GIL time", "% of wall time"],
                [
                    [name, f"{count / gil_total:.0%}", f"{count / ticks:.0%}"]
                    for name, count in _by(self.gil, lambda s: category(s.frames[-1]))
                    if count / gil_total >= 0.01
                ],
            ),
            "",
            "Top functions holding the GIL (self time):",
            "",
            *_rows(
                ["function (file)", "% of GIL time"],
                [
                    [f"`{frame}`", f"{count / gil_total:.1%}"]
                    for frame, count in _by(self.gil, lambda s: s.frames[-1])[:12]
                ],
            ),
        ]

    def _threads(self, ticks: int) -> list[str]:
        wall: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        gil: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        members: dict[str, set[str]] = collections.defaultdict(set)
        for samples, into in ((self.wall, wall), (self.gil, gil)):
            for s in samples:
                if s.frames:
                    into[s.group][category(s.frames[-1])] += s.count
                    members[s.group].add(s.thread)
        cpu = {g: sum(self.thread_cpu.get(t, 0.0) for t in ts) for g, ts in members.items()}
        rows = []
        for group in sorted(wall, key=lambda g: (-cpu[g], g)):
            off: collections.Counter[str] = collections.Counter()
            for name, count in wall[group].items():
                off[WAITS.get(name, "other")] += max(0, count - gil[group][name])
            label = group if len(members[group]) == 1 else f"{group} (x{len(members[group])})"
            rows.append(
                [
                    label,
                    f"{cpu[group] / self.seconds:.0%}",
                    f"{sum(gil[group].values()) / ticks:.0%}",
                    *(f"{off[c] / ticks:.0%}" for c in WAIT_COLUMNS),
                ]
            )
        return [
            "Threads: CPU time (from /proc) and GIL held, as shares of the wall-clock time; "
            "then where the thread was while not holding the GIL (waiting there, or for the "
            "GIL). A pool of N threads can reach N x 100%.",
            "",
            *_rows(
                ["thread", "CPU", "holds GIL", *(f"no GIL, in {c}" for c in WAIT_COLUMNS)], rows
            ),
        ]


def _by(samples: Sequence[Sample], key: Callable[[Sample], str]) -> list[tuple[str, int]]:
    counts: collections.Counter[str] = collections.Counter()
    for s in samples:
        if s.frames:
            counts[key(s)] += s.count
    return counts.most_common()


def _rows(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]
