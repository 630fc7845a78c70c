"""The faults a test injects: real servers down, up and frozen, and stand-ins that misbehave.

- The real servers, through ``scripts/services.sh`` and signals: ``outage`` (stopped, then
  started again), ``frozen`` and ``frozen_postgres`` (SIGSTOP, then SIGCONT), and what the
  suite's conftest checks after each test (``stopped_services``, ``frozen_services``).
- ``BackendKiller``: the service's PostgreSQL sessions terminated again and again.
- ``SilentServer``: a cache server that accepts connections and never answers.
- ``TcpProxy``: a link to a server that can stop relaying, as one that drops every packet.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import attrs
import psycopg

from tests.support import MEMCACHED

REPO = Path(__file__).resolve().parents[3]
SERVICES_SH = REPO / "scripts" / "services.sh"

CORE_SERVICES = ("postgres", "memcached", "redis", "kafka")


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


def _pid_in(status: str) -> int | None:
    """The pid in the rest of a ``services.sh status`` line, None if it names none."""
    found = re.search(r"\bpid (\d+)", status)
    return int(found.group(1)) if found else None


def service_pid(name: str) -> int:
    """The pid of a core server as ``services.sh status`` reports it."""
    pid = _pid_in(_status().get(name, ""))
    if pid is None:
        raise AssertionError(f"services.sh status shows no pid for {name}")
    return pid


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
        pid = _pid_in(rest)
        if name in CORE_SERVICES and pid is not None and _process_state(pid) == "T":
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


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


@contextmanager
def frozen_postgres() -> Iterator[None]:
    """Every process of the PostgreSQL server (the postmaster and each session's backend)
    stopped for the block: connections stay open and nothing answers, as with a server
    frozen by a hypervisor or a network that drops its packets. Continued whatever happens."""
    postmaster = service_pid("postgres")
    processes = [postmaster, *_children(postmaster)]
    for pid in processes:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in processes:
            with suppress(ProcessLookupError):
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


# The service's sessions in this test's database (its pools name themselves "order-service
# lookups" and "order-service ingest"). Literal SQL: the % is LIKE's, not a placeholder.
SERVICE_SESSIONS = (
    "SELECT pid, state FROM pg_stat_activity"
    " WHERE application_name LIKE 'order-service%'"
    " AND datname = current_database() AND pid <> pg_backend_pid()"
)


class BackendKiller:
    """Terminates the service's PostgreSQL sessions in this database, again and again.

    One round every ``every`` seconds. A round first hunts, for up to ``hunt`` seconds, for
    a session in the middle of its work (running a statement, or inside a transaction) and
    terminates it the moment it shows up; if none does, it terminates every session (idle
    ones). While the service has work, nearly every round therefore cuts a transaction:
    how many did is a count the test can wait for (``reached``), not a matter of timing.
    """

    def __init__(
        self,
        database_url: str,
        every: tuple[float, float] = (0.1, 0.4),
        hunt: float = 0.5,
        *,
        start: bool = True,
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
        if start:
            self.start()

    def start(self) -> None:
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
        if self._thread.is_alive():
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


class TcpProxy:
    """A TCP proxy that can stop relaying, as a link that drops every packet.

    Connections to ``address`` are relayed to the target. ``blackhole()`` stops relaying in
    both directions and holds every byte, on the open connections and on new ones (accepted,
    never connected onward), without closing anything: to both ends the network has gone
    silent, as with a DROP rule. ``restore()`` relays again: new connections go through; the
    connections opened before stay silent (their bytes were dropped, as a real link would),
    so the client must notice and reconnect.
    """

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
                with suppress(OSError):
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
