"""The real servers, through ``scripts/services.sh`` and signals: down, up, frozen."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import attrs

from tests.faults.harness.paths import SERVICES_SH
from tests.integration.conftest import MEMCACHED

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
