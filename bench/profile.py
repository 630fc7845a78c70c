"""Where the time goes: py-spy on the consumer during an ingest and on the HTTP worker during
memory hits and misses, summarized as markdown.

    .venv/bin/python -m bench.profile            # prints the summary
    .venv/bin/python -m bench.profile --docs     # also writes it into docs/benchmarks.md

Each target is sampled by two py-spy recordings at once, at the same rate: every thread
whatever it does (``--idle``: where each thread is, wall-clock) and only the thread holding
the GIL (``--gil``: where Python runs). Each thread's CPU time over the same window comes
from /proc (py-spy's own idea of an "active" thread counts threads blocked in
``Condition.wait`` as active, so it is not used). Per thread, the wall-clock samples in a
place minus the GIL samples there is the time spent there without the GIL: a thread inside
psycopg without the GIL is waiting on PostgreSQL (or for the GIL once it has answered),
inside the consumer's poll on Kafka, inside ``Future.result`` on another thread. py-spy sees
Python frames only: time in C (msgspec, librdkafka, libpq, uvloop, httptools) shows under the
Python function that called it. The raw recordings are kept with ``--keep DIR``.
"""

from __future__ import annotations

import argparse
import collections
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import attrs
import psycopg

from bench import environment, ingest, lookup, machine
from bench.environment import ROOT, say
from bench.machine import cpu_seconds_of
from bench.processes import ServiceProcess
from bench.report import DOCS

START, END = "<!-- bench:profile:start -->", "<!-- bench:profile:end -->"
PY_SPY = Path(sys.executable).parent / "py-spy"
MODES = {"wall": ["--idle"], "gil": ["--gil"]}
_THREAD = re.compile(r"^thread \((\w+)\)(?::\s*(.*))?$")


def _group(thread_name: str) -> str:
    """Threads of one pool under one name: 'order-saver_0' -> 'order-saver'."""
    name = thread_name.strip() or "unnamed"
    while (shorter := re.sub(r"[-_ ]?\d+$", "", name)) != name and shorter:
        name = shorter
    return name


@attrs.frozen
class Sample:
    thread: str  # thread id
    group: str  # thread name, pools folded together
    frames: tuple[str, ...]  # outermost first
    count: int


def read_raw(path: Path) -> list[Sample]:
    samples = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        match = _THREAD.match(frames[0])
        if match is None:
            continue
        samples.append(Sample(match.group(1), _group(match.group(2) or ""), tuple(frames[1:]),
                              int(count)))  # fmt: skip
    return samples


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds used so far by each thread of ``pid``, by thread id."""
    found = {}
    for task in Path(f"/proc/{pid}/task").glob("[0-9]*"):
        found[task.name] = cpu_seconds_of(task / "stat")
    return found


@attrs.define
class Recording:
    paths: dict[str, Path]
    thread_cpu: dict[str, float] = attrs.Factory(dict)  # over the recording, per thread

    def samples(self, mode: str) -> list[Sample]:
        return read_raw(self.paths[mode])


@contextmanager
def recording(pid: int, out: Path, rate: int) -> Iterator[Recording]:
    """The py-spy recordings of ``pid`` while the block runs, and its threads' CPU time."""
    paths = {mode: out / f"{mode}.raw" for mode in MODES}
    result = Recording(paths)
    processes = []
    for mode, flags in MODES.items():
        args = [str(PY_SPY), "record", "--pid", str(pid), "--rate", str(rate), "--format",
                "raw", "--threads", "--nolineno", *flags, "--output", str(paths[mode])]  # fmt: skip
        log = (out / f"{mode}.log").open("wb")
        processes.append((subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT), log))
    before = thread_cpu(pid)
    try:
        yield result
    finally:
        after = thread_cpu(pid)
        result.thread_cpu = {t: cpu - before.get(t, 0.0) for t, cpu in after.items()}
        for process, _ in processes:
            process.send_signal(signal.SIGINT)
        for process, log in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()
    for mode, path in paths.items():
        if not path.exists():
            text = (out / f"{mode}.log").read_text(errors="replace")[-500:]
            raise RuntimeError(f"py-spy wrote no {mode} recording: {text}")


def py_spy_version() -> str:
    out = subprocess.run([str(PY_SPY), "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip().removeprefix("py-spy ") or "unknown"


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


def profile_consumer(
    database_url: str, topic: str, orders: int, *, out: Path, rate: int, log_dir: Path
) -> Profile:
    """The consumer (``order-service consume``) through the ingest of the published topic."""
    settings = {
        "kafka_topic": topic,
        "kafka_dlq_topic": f"{topic}.dlq",
        "kafka_group": environment.new_group("profile"),
    }
    with (
        ServiceProcess(database_url, log_dir, settings, command="consume") as consumer,
        psycopg.connect(database_url, autocommit=True) as conn,
    ):
        while (first := ingest.stored_orders(conn, orders)) == 0:
            time.sleep(0.01)
        with recording(consumer.pid, out, rate) as recorded:
            started = time.perf_counter()
            while (stored := ingest.stored_orders(conn, orders)) < orders:
                if consumer.process.poll() is not None:
                    raise RuntimeError(f"the consumer exited; see {consumer.log_path}")
                time.sleep(0.05)
            seconds = time.perf_counter() - started
    return Profile(
        f"Consumer: `order-service consume`, {orders:,} orders, default settings",
        seconds,
        f"{(stored - first) / seconds:,.0f} orders/s",
        recorded.samples("wall"),
        recorded.samples("gil"),
        recorded.thread_cpu,
    )


def profile_http(
    database_url: str,
    scenario: lookup.Scenario,
    ids_file: Path,
    *,
    seconds: float,
    out: Path,
    rate: int,
    log_dir: Path,
) -> Profile:
    """The HTTP worker (``order-service http``) under wrk, for one lookup scenario."""
    with ServiceProcess(database_url, log_dir, scenario.settings) as service:
        lookup.run_wrk(service.url, ids_file, 16, 3.0)  # warm up
        env_wrk = subprocess.Popen(
            ["wrk", "-t1", "-c16", f"-d{seconds + 2:g}s", "--latency", "-s", str(lookup.LUA),
             service.url, "--", str(ids_file)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        time.sleep(1.0)
        with recording(service.pid, out, rate) as recorded:
            time.sleep(seconds)
        output, _ = env_wrk.communicate(timeout=60)
    match = re.search(r'"requests": (\d+), "duration_us": (\d+)', output)
    throughput = (
        f"{int(match.group(1)) / (int(match.group(2)) / 1e6):,.0f} req/s (wrk -t1 -c16)"
        if match
        else "unknown req/s"
    )
    return Profile(
        f"HTTP worker: `order-service http`, 1 worker, {_plural(scenario.name)}",
        seconds,
        throughput,
        recorded.samples("wall"),
        recorded.samples("gil"),
        recorded.thread_cpu,
    )


def _plural(scenario: str) -> str:
    return scenario.replace("hit", "hits").replace("miss", "misses")


def run(args: argparse.Namespace, out: Path) -> list[Profile]:
    profiles = []
    log_dir = out / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    topic = environment.create_topic()
    database_url = environment.create_database()
    try:
        say(f"profile: publishing {args.orders:,} orders")
        ingest.publish(topic, args.orders)
        say("profile: the consumer")
        (out / "consumer").mkdir()
        profiles.append(
            profile_consumer(
                database_url,
                topic,
                args.orders,
                out=out / "consumer",
                rate=args.rate,
                log_dir=log_dir,
            )
        )
        ids_file = out / "ids.txt"
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT order_uid FROM orders ORDER BY seq DESC LIMIT 10000"
            ).fetchall()
        ids_file.write_text("".join(f"{row[0]}\n" for row in rows))
        for scenario in lookup.scenarios(len(rows)):
            if scenario.name not in (lookup.MEMORY_HIT, lookup.MISS):
                continue
            say(f"profile: the HTTP worker, {scenario.name}")
            where = out / scenario.name.split()[0]
            where.mkdir()
            profiles.append(
                profile_http(
                    database_url,
                    scenario,
                    ids_file,
                    seconds=args.seconds,
                    out=where,
                    rate=args.rate,
                    log_dir=log_dir,
                )
            )
    finally:
        environment.delete_topic(topic)
        environment.drop_database(database_url)
        environment.delete_groups()
    return profiles


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000, help="orders ingested (100,000)")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per HTTP profile (8)")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second (100)")
    parser.add_argument("--keep", type=Path, help="keep the raw recordings in this directory")
    parser.add_argument(
        "--docs", action="store_true", help="write the summary into docs/benchmarks.md"
    )
    args = parser.parse_args(argv)
    if not PY_SPY.exists():
        sys.exit(f"bench.profile: {PY_SPY} is missing (the dev dependency group has py-spy)")
    load_before = load_average()
    if float(load_before.split()[0]) > 1.0:
        say(f"profile: WARNING: load average {load_before}: other work skews the profile")
    with tempfile.TemporaryDirectory(prefix="order-profile-") as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        profiles = run(args, out)
    stamp = time.strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        f"Profiled {stamp} with py-spy {py_spy_version()} at {args.rate} samples/s, on "
        f"{machine.machine()['cpu']}, {machine.machine()['cores']} cores; load "
        f"average before: {load_before}, after: {load_average()}. Code: "
        f"{machine.code_version()}. Re-run: `.venv/bin/python -m bench.profile --docs`.",
    ]
    for p in profiles:
        lines += ["", *p.markdown()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.docs:
        current = DOCS.read_text()
        if START in current and END in current:
            head, rest = current.split(START, 1)
            _, tail = rest.split(END, 1)
            DOCS.write_text(f"{head}{START}\n{text}{END}{tail}")
            say(f"profile: updated {DOCS.relative_to(ROOT)}")
        else:
            say(f"profile: {DOCS} has no {START} ... {END} markers; not updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
