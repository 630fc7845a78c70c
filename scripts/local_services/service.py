"""The server base classes: ``Service`` (what to install, how to launch, wait for, stop and
describe a server) and ``DaemonService`` (one this tool runs as its own detached process with a
pid file). Every server module builds on one of them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from local_services.config import Run
from local_services.output import log
from local_services.ports import check_stopped, foreign_note
from local_services.processes import pid_matches, read_pid, stop_pid
from local_services.waiting import Probe, await_ready


def status_line(name: str, state: str, endpoint: str, detail: str = "") -> str:
    return f"{name:<10} {state:<9} {endpoint:<16} {detail}"


class Service:
    """One server: what to install, how to launch, wait for, stop and describe it.

    The hooks do nothing by default (chromium, for one, is install only).
    """

    name: ClassVar[str]

    def __init__(self, r: Run) -> None:
        self.run = r
        self.cfg = r.cfg

    def missing_packages(self) -> list[str]:
        return []

    def prepare(self, installed: Sequence[str]) -> None:
        """After apt: anything else the server needs before it can start (jars, checks)."""

    def launch(self) -> None:
        """Start it without waiting (so that the slow ones boot in parallel)."""

    def wait(self) -> None:
        """Block until it answers; raise Fail with its log when it does not."""

    def stop(self) -> None:
        """Stop it (idempotent)."""

    def data_dirs(self) -> list[Path]:
        return []

    def status(self) -> str:
        raise NotImplementedError


class DaemonService(Service):
    """A server run as our own detached child, tracked by a pid file in STATE/NAME/."""

    pattern: ClassVar[str]  # must be in the process's command line
    check: ClassVar[str]  # what readiness means, for messages
    timeout: ClassVar[float] = 20
    stop_timeout: ClassVar[float] = 10
    port: int

    def __init__(self, r: Run) -> None:
        super().__init__(r)
        self.dir = self.cfg.state / self.name
        self.pidfile = self.dir / f"{self.name}.pid"
        self.logfile = self.dir / f"{self.name}.log"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        pid = read_pid(self.pidfile)
        return pid if pid is not None and pid_matches(pid, self.pattern) else None

    def already_running(self) -> bool:
        pid = self.pid()
        if pid is not None:
            log(f"{self.name}: already running (pid {pid}, {self.endpoint})")
        return pid is not None

    def probe(self) -> Probe:
        if self.answers():
            return Probe.READY
        return Probe.WAIT if self.pid() is not None else Probe.DEAD

    def answers(self) -> bool:
        raise NotImplementedError

    def logs(self) -> list[Path]:
        """The logs whose tails explain a failure."""
        return [self.logfile]

    def after_ready(self) -> None:
        """Set-up that needs the running server (users, databases)."""

    def ready_note(self) -> str:
        return ""

    def wait(self) -> None:
        if self.name in self.run.foreign:
            log(f"{self.name}: using the foreign server on {self.endpoint}{self.ready_note()}")
            return
        desc = f"{self.name} on {self.endpoint} ({self.check})"
        await_ready(desc, self.timeout, self.probe, *self.logs())
        self.after_ready()
        log(f"{self.name}: ready at {self.endpoint}{self.ready_note()}")

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            log(f"{self.name}: not running")
        else:
            stop_pid(self.name, pid, self.stop_timeout)
        self.pidfile.unlink(missing_ok=True)
        check_stopped(self.run, self.name, self.port)

    def status_detail(self) -> str:
        return ""

    def status(self) -> str:
        pid = self.pid()
        if pid is None:
            return status_line(self.name, "stopped", self.endpoint, foreign_note(self.port))
        return status_line(self.name, "running", self.endpoint, f"pid {pid}{self.status_detail()}")

    def data_dirs(self) -> list[Path]:
        return [self.dir]
