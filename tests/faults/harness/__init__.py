"""The fault-injection harness: servers off and on, service processes, and the audit.

The audit is the point of every fault test. Whatever was injected, at the end:
- every valid order published is in PostgreSQL exactly once, with its child rows once;
- nothing else is in PostgreSQL (no invalid message got through);
- every invalid message is in the dead-letter topic, with its original bytes and headers
  naming the reason and its source topic, partition and offset;
- the group's committed offsets cover the end offset of every partition;
- and, sampled all along by ``CommitWatch``, no committed offset ever ran ahead of the
  database or the dead-letter topic: each message below a committed offset had been saved
  (its row's ``saved_at`` is earlier) or dead-lettered (its record's timestamp is earlier).

Faults are injected by count, not by luck: a test that needs its fault to land in some
state (a session killed mid-transaction, a process frozen between its database commit and
its offset commit, an instance leaving while work remains) waits for that state, or keeps
the work coming until the count it needs is reached, within a time bound; when the bound is
hit it fails saying which count was not reached. A green run therefore means the fault was
injected as described, and a red one that something is wrong.

Every server address comes from tests/integration/conftest.py (environment variables, the
normal local ports by default), and ``scripts/services.sh`` reads the same ORDER_* port
variables, so the whole suite can run against a second set of servers.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import attrs
import httpx
import orjson
import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from adapters.kafka.messages import headers, position
from adapters.kafka.publisher import KafkaPublisher
from adapters.kafka.records import Record as KafkaRecord
from adapters.kafka.topics import ensure_topics
from entrypoints.settings import ENV_PREFIX
from order_tools.fake_orders import messages
from tests.integration.conftest import KAFKA, MEMCACHED, REDIS

__all__ = ["KAFKA", "MEMCACHED", "REDIS"]  # re-exported for the fault tests

REPO = Path(__file__).resolve().parents[3]
SERVICES_SH = REPO / "scripts" / "services.sh"
ORDER_SERVICE = str(Path(sys.executable).parent / "order-service")
ARTIFACTS = REPO / "test-artifacts" / "faults"
CORE_SERVICES = ("postgres", "memcached", "redis", "kafka")

Headers = list[tuple[str, bytes]]
# The test's own clients stay quiet while the broker is away on purpose.
QUIET: dict[str, str | int | float | bool] = {"bootstrap.servers": KAFKA, "log_level": 0}


# -- servers ----------------------------------------------------------------------------------


def services(action: str, name: str) -> None:
    """Run ``scripts/services.sh ACTION NAME``; fail the test with its output if it fails."""
    result = subprocess.run(
        [str(SERVICES_SH), action, name],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"services.sh {action} {name} failed ({result.returncode}):\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )


def _status() -> dict[str, str]:
    """``services.sh status`` of the core servers: name -> the rest of its line."""
    result = subprocess.run(
        [str(SERVICES_SH), "status", *CORE_SERVICES],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = (line.split(None, 1) for line in result.stdout.splitlines())
    return {parts[0]: parts[1] for parts in lines if len(parts) == 2}


def stopped_services() -> list[str]:
    """The core servers that are not running now."""
    status = _status()
    return [name for name in CORE_SERVICES if not status.get(name, "").startswith("running")]


def service_pid(name: str) -> int:
    """The pid of a core server as ``services.sh status`` reports it."""
    found = re.search(r"\bpid (\d+)", _status().get(name, ""))
    if found is None:
        raise AssertionError(f"services.sh status shows no pid for {name}")
    return int(found.group(1))


def _process_state(pid: int) -> str:
    """The state letter of /proc/PID/status (R, S, T for stopped, ...), "" if it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ""
    found = re.search(r"^State:\s+(\S)", text, re.MULTILINE)
    return found.group(1) if found else ""


def frozen_services() -> list[str]:
    """The core servers whose process is stopped by a signal (SIGSTOP) now."""
    frozen = []
    for name, rest in _status().items():
        found = re.search(r"\bpid (\d+)", rest)
        if name in CORE_SERVICES and found and _process_state(int(found.group(1))) == "T":
            frozen.append(name)
    return frozen


def memcached_pid() -> int:
    """The pid of the Memcached these tests use (never another one: its port is checked)."""
    pid = service_pid("memcached")
    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    port = MEMCACHED.rsplit(":", 1)[1].encode()
    assert b"-p" in command, command
    assert command[command.index(b"-p") + 1] == port, (
        f"pid {pid} is a memcached on another port than {MEMCACHED}: {command!r}"
    )
    return pid


@contextmanager
def frozen(pid: int) -> Iterator[None]:
    """The process is stopped (SIGSTOP) for the block and continued whatever happens."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@attrs.define
class Outage:
    """One server taken down; ``start`` brings it back (once) and notes when it was back."""

    name: str
    stopped_at: float | None = None
    started_at: float | None = None

    def stop(self) -> None:
        services("stop", self.name)
        self.stopped_at = time.monotonic()

    def start(self) -> None:
        if self.started_at is None:
            services("start", self.name)
            self.started_at = time.monotonic()

    @property
    def seconds(self) -> float:
        assert self.stopped_at is not None
        assert self.started_at is not None
        return self.started_at - self.stopped_at


@contextmanager
def outage(name: str) -> Iterator[Outage]:
    """Stop a server for the block; it is started again whatever happens in the block."""
    down = Outage(name)
    try:
        down.stop()
        yield down
    finally:
        down.start()


# -- the data ---------------------------------------------------------------------------------


@attrs.define
class Workload:
    """The messages a test publishes, and what the service must make of them."""

    pairs: list[tuple[bytes | None, bytes]]
    headers: list[Headers]
    valid_values: dict[bytes, str]  # message bytes -> order_uid, for every valid message
    expected_items: int  # item rows the valid orders must leave, once each
    ok: list[bool] = attrs.field(factory=list, repr=False)  # per message: a valid order?

    @classmethod
    def generate(
        cls,
        count: int,
        seed: int,
        invalid_ratio: float = 0.05,
        extra_invalid: Sequence[tuple[bytes | None, bytes]] = (),
        poison_run: Sequence[tuple[bytes | None, bytes]] = (),
    ) -> Workload:
        """``count`` generated messages; ``extra_invalid`` are spread evenly among them and
        ``poison_run`` (invalid messages back to back) goes in the middle. The generator is
        a stream: the first N messages of a larger workload are those of a workload of N."""
        generated = [(k, v, ok) for k, v, ok in messages(count, seed, invalid_ratio)]
        middle = len(generated) // 2
        generated[middle:middle] = [(k, v, False) for k, v in poison_run]
        every = max(1, len(generated) // (len(extra_invalid) + 1))
        merged: list[tuple[bytes | None, bytes, bool]] = []
        extras = iter(extra_invalid)
        for index, message in enumerate(generated):
            merged.append(message)
            if (index + 1) % every == 0 and (extra := next(extras, None)) is not None:
                merged.append((extra[0], extra[1], False))
        merged.extend((k, v, False) for k, v in extras)
        return cls.of(merged)

    @classmethod
    def of(cls, merged: Sequence[tuple[bytes | None, bytes, bool]]) -> Workload:
        valid_values: dict[bytes, str] = {}
        items = 0
        for _, value, ok in merged:
            if ok and value not in valid_values:
                document = orjson.loads(value)
                valid_values[value] = document["order_uid"]
                items += len(document["items"])
        headers: list[Headers] = [
            [("fault-suite.seq", str(i).encode())] for i in range(len(merged))
        ]
        return cls(
            [(k, v) for k, v, _ in merged], headers, valid_values, items, [ok for *_, ok in merged]
        )

    def prefix(self, count: int) -> Workload:
        """The first ``count`` messages, as a workload of their own (what was published)."""
        return Workload.of(
            [(k, v, ok) for (k, v), ok in zip(self.pairs[:count], self.ok[:count], strict=True)]
        )

    @property
    def valid_uids(self) -> set[str]:
        return set(self.valid_values.values())

    @property
    def invalid_count(self) -> int:
        return sum(1 for _, value in self.pairs if value not in self.valid_values)

    def records(self, start: int = 0, stop: int | None = None) -> list[KafkaRecord]:
        stop = len(self.pairs) if stop is None else stop
        return [
            KafkaRecord(key, value, tuple(headers))
            for (key, value), headers in zip(
                self.pairs[start:stop], self.headers[start:stop], strict=True
            )
        ]

    def valid_uids_in(self, start: int, stop: int | None) -> list[str]:
        """The order_uids of the valid messages among pairs[start:stop], first copies only."""
        seen: dict[str, None] = {}
        for _, value in self.pairs[start:stop]:
            if (uid := self.valid_values.get(value)) is not None:
                seen.setdefault(uid)
        return list(seen)


def _publisher() -> KafkaPublisher:
    return KafkaPublisher(KAFKA, {"log_level": "0"})


def publish(
    topic: str,
    workload: Workload,
    rate: float = 0.0,
    chunk: int = 500,
    start: int = 0,
    stop: int | None = None,
) -> float:
    """Publish the workload, or pairs[start:stop] of it (at ``rate`` messages/s if given);
    return the seconds it took."""
    publisher = _publisher()
    started = time.monotonic()
    stop = len(workload.pairs) if stop is None else stop
    sent = 0
    try:
        for first in range(start, stop, chunk):
            sent += publisher.publish(topic, workload.records(first, min(first + chunk, stop)))
            if rate:
                time.sleep(max(0.0, started + sent / rate - time.monotonic()))
    finally:
        publisher.close()
    return time.monotonic() - started


class Publishing:
    """Publishes a workload in a background thread (to inject faults while it runs).

    Without ``until`` it publishes the whole workload. With ``until`` it publishes at least
    ``at_least`` messages and then goes on (into the rest of the workload: the reserve)
    until ``until()`` is true, so that the work never runs out before the fault the test
    waits for has been injected; it fails, saying what was awaited (``awaited()``), when the
    reserve runs out first. ``published`` is the part to audit.
    """

    def __init__(
        self,
        topic: str,
        workload: Workload,
        rate: float,
        chunk: int = 250,
        *,
        until: Callable[[], bool] | None = None,
        at_least: int | None = None,
        awaited: Callable[[], str] = lambda: "the fault",
    ) -> None:
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.sent = 0
        self._workload = workload
        self._until = until
        self._awaited = awaited
        self._at_least = len(workload.pairs) if at_least is None else at_least
        self._thread = threading.Thread(
            target=self._run, args=(topic, workload, rate, chunk), daemon=True
        )
        self._thread.start()

    def _run(self, topic: str, workload: Workload, rate: float, chunk: int) -> None:
        started = time.monotonic()
        publisher = _publisher()
        try:
            total = len(workload.pairs)
            while self.sent < total:
                if self.sent >= self._at_least and (self._until is None or self._until()):
                    break
                stop = min(self.sent + chunk, total)
                self.sent += publisher.publish(topic, workload.records(self.sent, stop))
                time.sleep(max(0.0, started + self.sent / rate - time.monotonic()))
            else:
                if self._until is not None and not self._until():
                    raise AssertionError(
                        f"all {total} messages of the reserve were published in "
                        f"{time.monotonic() - started:.0f}s before {self._awaited()}"
                    )
        except BaseException as exc:
            self.error = exc
        finally:
            publisher.close()
            self.seconds = time.monotonic() - started

    @property
    def published(self) -> Workload:
        """What was published: the workload the audit must find."""
        assert not self._thread.is_alive(), "still publishing"
        return self._workload.prefix(self.sent)

    def join(self, timeout: float = 180.0) -> float:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "publishing did not finish"
        if self.error is not None:
            raise AssertionError(f"publishing failed: {self.error!r}") from self.error
        return self.seconds


# -- Kafka ------------------------------------------------------------------------------------


def new_topic(partitions: int = 4) -> str:
    """A new orders topic and its dead-letter topic, unique to the caller."""
    name = f"orders-fault-{uuid.uuid4().hex[:10]}"
    ensure_topics(KAFKA, {name: partitions, f"{name}.dlq": 1})
    return name


@attrs.frozen
class Record:
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp: float  # seconds (the producer's create time)


def read_topic(topic: str, partitions: int, timeout: float = 60.0) -> dict[tuple[int, int], Record]:
    """Every record of a topic, by (partition, offset)."""
    reader = Consumer(
        {
            **QUIET,
            "group.id": f"fault-reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        ends = {
            p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
        remaining = {p for p, end in ends.items() if end > 0}
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in remaining])
        records: dict[tuple[int, int], Record] = {}
        deadline = time.monotonic() + timeout
        while remaining:
            assert time.monotonic() < deadline, f"could not read all of {topic}: {remaining} left"
            for message in reader.consume(num_messages=1000, timeout=0.5):
                if message.error() is not None:
                    continue
                _, partition, offset = position(message)
                records[partition, offset] = Record(
                    message.key(),
                    message.value() or b"",
                    headers(message),
                    message.timestamp()[1] / 1000,
                )
                if offset + 1 >= ends[partition]:
                    remaining.discard(partition)
        return records
    finally:
        reader.close()


class KafkaProbe:
    """Looks at a topic and its group from outside: end offsets, commits, members."""

    def __init__(self, topic: str, group: str, partitions: int) -> None:
        self.topic, self.group, self.partitions = topic, group, partitions
        # Never subscribes, so it never joins the group it reads the commits of.
        self._client = Consumer({**QUIET, "group.id": group})
        self._admin = AdminClient(QUIET)

    def end_offsets(self) -> dict[int, int]:
        return {
            p: self._client.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]
            for p in range(self.partitions)
        }

    def committed(self, timeout: float = 10.0) -> dict[int, int]:
        tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        return {tp.partition: max(tp.offset, 0) for tp in self._client.committed(tps, timeout)}

    def members(self) -> dict[str, set[int]]:
        """Each member of the group (by member id) and the partitions it holds."""
        future = self._admin.describe_consumer_groups([self.group], request_timeout=10)[self.group]
        description = future.result(timeout=15)
        return {
            member.member_id: {
                tp.partition for tp in member.assignment.topic_partitions if tp.topic == self.topic
            }
            for member in description.members
        }

    def holders(self) -> list[set[int]]:
        """The partitions each member holds, sorted; [] while the group is in between."""
        try:
            return sorted(self.members().values(), key=sorted)
        except Exception:  # the group may be between generations
            return []

    def close(self) -> None:
        self._client.close()


class CommitWatch:
    """Samples the group's committed offsets in the background, with the time of each sample."""

    def __init__(self, topic: str, group: str, partitions: int, every: float = 0.1) -> None:
        self.samples: list[tuple[float, dict[int, int]]] = []
        self._probe = KafkaProbe(topic, group, partitions)
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    committed = self._probe.committed(timeout=5)
                except KafkaException:
                    committed = None  # the broker is away: no sample
                if committed is not None:
                    # Taken after the answer: anything committed then was committed before now.
                    self.samples.append((time.time(), committed))
                self._stop.wait(self._every)
        finally:
            self._probe.close()

    def committed_between(self, start: float, end: float) -> int:
        """Messages committed between two Unix times (from the samples nearest to them)."""
        inside = [total for when, total in self.totals() if start <= when <= end]
        return inside[-1] - inside[0] if len(inside) >= 2 else 0

    def totals(self) -> list[tuple[float, int]]:
        """(Unix time, sum of the committed offsets) of every sample."""
        return [(when, sum(committed.values())) for when, committed in list(self.samples)]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def __enter__(self) -> CommitWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- PostgreSQL -------------------------------------------------------------------------------

# The service's sessions in this test's database (its pools name themselves "order-service
# lookups" and "order-service ingest"). Literal SQL: the % is LIKE's, not a placeholder.
SERVICE_SESSIONS = (
    "SELECT pid, state FROM pg_stat_activity"
    " WHERE application_name LIKE 'order-service%'"
    " AND datname = current_database() AND pid <> pg_backend_pid()"
)


def saved_count(database_url: str) -> int:
    """Orders stored now, or -1 while the database cannot be reached."""
    try:
        with psycopg.connect(database_url, connect_timeout=2, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM orders").fetchone()
    except psycopg.OperationalError:
        return -1
    return int(row[0]) if row else 0


def saved_uids(database_url: str) -> set[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return {str(r[0]) for r in conn.execute("SELECT order_uid FROM orders")}


class BackendKiller:
    """Terminates the service's PostgreSQL sessions in this database, again and again.

    One round every ``every`` seconds. A round first hunts, for up to ``hunt`` seconds, for
    a session in the middle of its work (running a statement, or inside a transaction) and
    terminates it the moment it shows up; if none does, it terminates every session (idle
    ones). While the service has work, nearly every round therefore cuts a transaction:
    how many did is a count the test can wait for (``reached``), not a matter of timing.
    """

    def __init__(
        self, database_url: str, every: tuple[float, float] = (0.1, 0.4), hunt: float = 0.5
    ) -> None:
        self.killed = 0
        self.killed_busy = 0  # of which were running a statement or inside a transaction
        self.rounds = 0
        self._url = database_url
        self._every = every
        self._hunt = hunt
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def reached(self, killed: int, busy: int) -> bool:
        return self.killed >= killed and self.killed_busy >= busy

    def _kill(self, conn: psycopg.Connection[tuple[object, ...]], busy_only: bool) -> int:
        # The filter first, in a subquery, and the kill in the outer select list: SQL does
        # not promise the order in which one WHERE clause is evaluated. OFFSET 0: the
        # subquery is never flattened into the outer query.
        where = " AND state <> 'idle'" if busy_only else ""
        rows = conn.execute(
            "SELECT state, pg_terminate_backend(pid) FROM ("
            + SERVICE_SESSIONS
            + where
            + " OFFSET 0) AS service"
        ).fetchall()
        self.killed += sum(1 for _, killed in rows if killed)
        busy = sum(1 for state, killed in rows if killed and state != "idle")
        self.killed_busy += busy
        return busy

    def _run(self) -> None:
        rng = random.Random(7)
        try:
            with psycopg.connect(self._url, autocommit=True) as conn:
                while not self._stop.wait(rng.uniform(*self._every)):
                    self.rounds += 1
                    deadline = time.monotonic() + self._hunt
                    while not self._stop.is_set() and time.monotonic() < deadline:
                        if self._kill(conn, busy_only=True):
                            break
                        time.sleep(0.003)
                    else:
                        self._kill(conn, busy_only=False)
        except BaseException as exc:
            self.error = exc

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        if self.error is not None:
            raise AssertionError(f"the session killer failed: {self.error!r}") from self.error


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


# -- service processes ------------------------------------------------------------------------


def service_env(database_url: str, topic: str, **changes: object) -> dict[str, str]:
    """The environment of an ``order-service`` process pointed at this test's resources.

    Its ops server is off (port 0) unless the test asks for one: pass ``ops_port=free_port()``
    so that processes never clash over a port.
    """
    settings: dict[str, object] = {
        "kafka_bootstrap": KAFKA,
        "kafka_topic": topic,
        "kafka_dlq_topic": f"{topic}.dlq",
        "kafka_group": f"group-{topic}",
        "database_url": database_url,
        "memcached_servers": MEMCACHED,
        "redis_url": REDIS,
        "warm_up_orders": 0,
        "retry_max": 1,
        "batch_size": 500,
        "http_host": "127.0.0.1",
        "ops_port": 0,
        "log_level": "INFO",
    }
    settings.update(changes)
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update({ENV_PREFIX + name.upper(): str(value) for name, value in settings.items()})
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServiceProcess:
    """One ``order-service`` process, its output in a log file under test-artifacts."""

    def __init__(self, command: str, env: Mapping[str, str], log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.proc = subprocess.Popen(
            [ORDER_SERVICE, command],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.flush()

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> tuple[int, float]:
        """Send ``signum`` and wait: (exit code, seconds to exit)."""
        started = time.monotonic()
        self.send(signum)
        code = self.wait(timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.alive:
            self.proc.kill()
            self.proc.wait(10)

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        if self.alive:
            self.proc.send_signal(signal.SIGCONT)  # a frozen process dies as well when killed
        self.kill()
        self._log.close()


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


Spawn = Callable[[str, Mapping[str, str], str], ServiceProcess]


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    processes: Iterable[ServiceProcess] = (),
    every: float = 0.2,
) -> float:
    """Wait for ``condition``; fail at once if a watched process died. Returns the seconds."""
    started = time.monotonic()
    watched = list(processes)
    while True:
        if condition():
            return time.monotonic() - started
        for process in watched:
            if not process.alive:
                raise AssertionError(
                    f"{process.log_path.name} exited ({process.proc.returncode}) while waiting "
                    f"for {what}:\n{process.output()[-3000:]}"
                )
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def all_done(probe: KafkaProbe, ends: Mapping[int, int]) -> Callable[[], bool]:
    """True once the group has committed up to ``ends`` on every partition."""

    def check() -> bool:
        try:
            return probe.committed(timeout=5) == dict(ends)
        except KafkaException:
            return False

    return check


def http_up(url: str) -> Callable[[], bool]:
    """True once ``url`` answers at all (any status)."""

    def check() -> bool:
        try:
            httpx.get(url, timeout=2)
        except httpx.TransportError:
            return False
        return True

    return check


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (share in 0..1) of the values; nan when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# -- HTTP load ----------------------------------------------------------------------------------


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


# -- the audit --------------------------------------------------------------------------------


@attrs.define
class Audit:
    """What the service made of a workload: the figures, and every problem found."""

    published: int = 0
    valid: int = 0
    invalid: int = 0
    saved: int = 0
    rows: int = 0
    duplicates: int = 0
    lost: int = 0
    unexpected: int = 0
    dead_lettered: int = 0
    dlq_records: int = 0
    dlq_duplicates: int = 0
    dlq_missing: int = 0
    commit_samples: int = 0
    problems: list[str] = attrs.field(factory=list)
    dlq: dict[tuple[int, int], Record] = attrs.field(factory=dict, repr=False)
    source: dict[tuple[int, int], Record] = attrs.field(factory=dict, repr=False)

    def figures(self) -> dict[str, object]:
        return {
            "published": self.published,
            "valid": self.valid,
            "saved": self.saved,
            "dead_lettered": self.dead_lettered,
            "duplicates": self.duplicates,
            "lost": self.lost,
            "dlq_duplicates": self.dlq_duplicates,
            "commit_samples": self.commit_samples,
        }

    def reason_of(self, value: bytes) -> list[str]:
        """The dead-letter reasons recorded for messages with these bytes."""
        return [
            dict(record.headers)["dlq.reason"].decode()
            for record in self.dlq.values()
            if record.value == value
        ]


def audit(
    database_url: str,
    topic: str,
    group: str,
    partitions: int,
    workload: Workload,
    commits: CommitWatch | None = None,
    allow_dlq_duplicates: bool = False,
) -> Audit:
    """Check the end state (see the module docstring); ``problems`` lists what is wrong."""
    result = Audit()
    problems = result.problems
    source = read_topic(topic, partitions)
    result.source = source
    result.published = len(workload.pairs)
    valid_uids = workload.valid_uids
    result.valid = len(valid_uids)
    result.invalid = workload.invalid_count
    if len(source) != len(workload.pairs):
        problems.append(f"the topic holds {len(source)} messages, {len(workload.pairs)} published")

    # PostgreSQL: every valid order once, nothing else.
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT order_uid, extract(epoch FROM saved_at)::float8 FROM orders"
        ).fetchall()
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM orders), (SELECT count(DISTINCT order_uid) FROM orders),"
            " (SELECT count(*) FROM deliveries), (SELECT count(*) FROM payments),"
            " (SELECT count(*) FROM items)"
        ).fetchone()
    assert counts is not None
    total, distinct, deliveries, payments, items = (int(c) for c in counts)
    saved_at = {str(uid): float(at) for uid, at in rows}
    stored = set(saved_at)
    result.rows = total
    result.saved = len(stored & valid_uids)
    result.lost = len(valid_uids - stored)
    result.unexpected = len(stored - valid_uids)
    child_excess = (
        max(0, deliveries - distinct)
        + max(0, payments - distinct)
        + max(0, items - workload.expected_items)
    )
    result.duplicates = total - distinct + child_excess
    if result.lost:
        problems.append(f"{result.lost} valid orders not in PostgreSQL")
    if result.unexpected:
        problems.append(f"{result.unexpected} orders in PostgreSQL that were never valid")
    if total != distinct:
        problems.append(f"count(*) {total} != count(distinct) {distinct}")
    if (deliveries, payments, items) != (distinct, distinct, workload.expected_items):
        problems.append(
            f"child rows: deliveries {deliveries}, payments {payments}, items {items}; "
            f"expected {distinct}, {distinct}, {workload.expected_items}"
        )

    # The dead-letter topic: every invalid message once, with its bytes and its provenance.
    dlq = read_topic(f"{topic}.dlq", 1)
    result.dlq = dlq
    result.dlq_records = len(dlq)
    invalid_positions = {pos for pos, r in source.items() if r.value not in workload.valid_values}
    dead_at: dict[tuple[int, int], float] = {}
    wrong: list[str] = []
    for (_, dlq_offset), record in sorted(dlq.items()):
        headers = dict(record.headers)
        try:
            position = (int(headers["dlq.partition"]), int(headers["dlq.offset"]))
            reason = headers["dlq.reason"].decode()
            origin = headers["dlq.topic"].decode()
        except (KeyError, ValueError) as exc:
            wrong.append(f"dlq@{dlq_offset}: bad headers {headers!r} ({exc!r})")
            continue
        original = source.get(position)
        if origin != topic or original is None:
            wrong.append(f"dlq@{dlq_offset}: names {origin}{position}, not a message of {topic}")
        elif original.value != record.value or original.key != record.key:
            wrong.append(f"dlq@{dlq_offset}: bytes differ from {topic}{position}")
        elif not set(original.headers) <= set(record.headers):
            wrong.append(f"dlq@{dlq_offset}: the original headers were not kept")
        elif position not in invalid_positions:
            wrong.append(f"dlq@{dlq_offset}: {topic}{position} is a valid order")
        if not reason:
            wrong.append(f"dlq@{dlq_offset}: no reason given")
        dead_at[position] = min(dead_at.get(position, record.timestamp), record.timestamp)
    result.dead_lettered = len(invalid_positions & set(dead_at))
    result.dlq_missing = len(invalid_positions - set(dead_at))
    result.dlq_duplicates = len(dlq) - len(dead_at)
    if wrong:
        problems.append(f"{len(wrong)} wrong dead letters, e.g. {wrong[:3]}")
    if result.dlq_missing:
        problems.append(f"{result.dlq_missing} invalid messages not dead-lettered")
    if result.dlq_duplicates and not allow_dlq_duplicates:
        problems.append(f"{result.dlq_duplicates} messages dead-lettered more than once")

    # The group's commits: at the end up to the end of every partition, and never ahead.
    probe = KafkaProbe(topic, group, partitions)
    try:
        ends, committed = probe.end_offsets(), probe.committed()
    finally:
        probe.close()
    if committed != ends:
        problems.append(f"committed offsets {committed} do not cover the end offsets {ends}")
    if commits is not None:
        result.commit_samples = len(commits.samples)
        problems.extend(
            commits_ahead_of_work(commits.samples, source, workload, saved_at, dead_at)[:5]
        )
    return result


def commits_ahead_of_work(
    samples: Sequence[tuple[float, Mapping[int, int]]],
    source: Mapping[tuple[int, int], Record],
    workload: Workload,
    saved_at: Mapping[str, float],
    dead_at: Mapping[tuple[int, int], float],
) -> list[str]:
    """Samples where a committed offset passed a message not yet saved nor dead-lettered."""
    # For each partition: offsets in order, and the time by which all up to each were done.
    done_by: dict[int, tuple[list[int], list[float]]] = {}
    for (partition, offset), record in sorted(source.items()):
        uid = workload.valid_values.get(record.value)
        done = saved_at.get(uid, float("inf")) if uid else dead_at.get((partition, offset))
        offsets, times = done_by.setdefault(partition, ([], []))
        previous = times[-1] if times else 0.0
        offsets.append(offset)
        times.append(max(previous, float("inf") if done is None else done))
    violations = []
    for when, committed in samples:
        for partition, offset in committed.items():
            if offset <= 0 or partition not in done_by:
                continue
            offsets, times = done_by[partition]
            index = bisect.bisect_left(offsets, offset) - 1
            # 1 ms of slack: the dead-letter timestamps have millisecond precision.
            if index >= 0 and times[index] > when + 0.001:
                violations.append(
                    f"partition {partition} was committed to {offset} at {when:.3f}, before "
                    f"its messages were all saved or dead-lettered ({times[index]:.3f})"
                )
    return violations


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
