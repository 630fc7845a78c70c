"""How a server is run: the base classes ``Service`` (what to install, how to launch, wait for,
stop and describe a server) and ``DaemonService`` (one this tool runs as its own detached process
with a pid file), and what they stand on: polling until ready (``Probe``), our own processes
(spawned with a pid file, told apart by their command line, stopped with SIGTERM then SIGKILL),
and the ports (does one answer, who holds it, and what to do when a server this tool did not
start holds it: stop Debian's own daemon, use any other working server as is).
Every server module builds on one of the two classes."""

from __future__ import annotations

import contextlib
import enum
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from local_services.config import Run
from local_services.output import Fail, log, warn
from local_services.system import run

# -- waiting ----------------------------------------------------------------------------------


class Probe(enum.Enum):
    READY = "ready"
    WAIT = "not yet"
    DEAD = "gave up"


def wait_for(desc: str, timeout: float, probe: Callable[[], Probe], quiet: bool = False) -> bool:
    """Poll PROBE until READY (True), DEAD or TIMEOUT (False, with a message unless quiet)."""
    start = time.monotonic()
    result = probe()
    if result is not Probe.WAIT:
        return result is Probe.READY
    if not quiet:
        log(f"waiting for {desc} (timeout {timeout:g}s)...")
    next_note = 5.0
    while (elapsed := time.monotonic() - start) < timeout:
        time.sleep(0.25)
        result = probe()
        if result is not Probe.WAIT:
            if result is Probe.READY and not quiet:
                log(f"{desc}: ready after {elapsed:.0f}s")
            return result is Probe.READY
        if elapsed >= next_note and not quiet:
            log(f"  ...still waiting for {desc} ({elapsed:.0f}s)")
            next_note += 10
    return False


def await_ready(desc: str, timeout: float, probe: Callable[[], Probe], *logs: Path) -> None:
    if not wait_for(desc, timeout, probe):
        why = "the process exited" if probe() is Probe.DEAD else f"timed out after {timeout:g}s"
        raise Fail(f"{desc}: not ready ({why})", *logs)


# -- our own processes ------------------------------------------------------------------------


def alive_in_status(proc_status: str) -> bool:
    """From /proc/PID/status: running, i.e. not a zombie. A zombie leader whose other threads
    still run (a multi-threaded server shutting down, still holding its ports) is running."""
    fields = dict(line.split(":", 1) for line in proc_status.splitlines() if ":" in line)
    zombie = fields.get("State", "").strip().startswith(("Z", "X"))
    return not zombie or int(fields.get("Threads", "1")) > 1


def pid_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaps it if it is a dead child of ours
    try:
        return alive_in_status(Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return False


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def pid_matches(pid: int, pattern: str) -> bool:
    return pattern in cmdline(pid) and pid_alive(pid)


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().split()
    except OSError:
        return None
    return int(text[0]) if text and text[0].isdigit() else None


def spawn_daemon(cmd: Sequence[str | Path], pidfile: Path, logfile: Path, cwd: Path) -> int:
    """Start CMD detached (own session, stdin /dev/null, output appended to LOGFILE)."""
    pidfile.unlink(missing_ok=True)
    with logfile.open("ab") as out:
        proc = subprocess.Popen(
            [str(c) for c in cmd],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )
    # Popen returns once exec is past its point of no return, a moment before the kernel
    # shows the new command line: until then the process would not look like ours.
    deadline = time.monotonic() + 5
    while not cmdline(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    pidfile.write_text(f"{proc.pid}\n")
    proc.returncode = proc.returncode or 0  # never waited for: keeps Popen.__del__ quiet
    return proc.pid


def stop_pid(name: str, pid: int, timeout: float) -> None:
    """SIGTERM, wait, then SIGKILL."""

    def gone() -> Probe:
        return Probe.WAIT if pid_alive(pid) else Probe.READY

    if not pid_alive(pid):
        return
    log(f"stopping {name} (pid {pid})...")
    with_signal(pid, signal.SIGTERM)
    if not wait_for(f"{name} to exit", timeout, gone, quiet=True):
        warn(f"{name} (pid {pid}) did not exit within {timeout:g}s after SIGTERM; SIGKILL")
        with_signal(pid, signal.SIGKILL)
        if not wait_for(f"{name} to die", 10, gone, quiet=True):
            raise Fail(f"{name} (pid {pid}) survived SIGKILL")
    log(f"{name} stopped")


def with_signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


# -- ports ------------------------------------------------------------------------------------


def port_accepts(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def listening_ports(tables: Sequence[str]) -> set[int]:
    """Ports in LISTEN state (0A) in the text of /proc/net/tcp and /proc/net/tcp6."""
    ports = set()
    for table in tables:
        for line in table.splitlines()[1:]:
            cols = line.split()
            if len(cols) > 3 and cols[3] == "0A":
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def port_listening(port: int) -> bool:
    """Is anything listening on the port, on any address? Does not connect."""
    try:
        tables = [Path(f"/proc/net/{t}").read_text() for t in ("tcp", "tcp6")]
    except OSError:
        return port_accepts(port)
    return port in listening_ports(tables)


def port_owner(port: int) -> str:
    if not shutil.which("ss"):
        return "unknown process"
    out = run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True).stdout
    return " ".join(line.split()[-1] for line in out.splitlines() if line.split()) or "?"


def ensure_port_free(
    r: Run, name: str, port: int, distro: str = "", healthy: Callable[[], bool] | None = None
) -> bool:
    """Before starting NAME: True if a working foreign server is there (use it as is)."""
    if not port_listening(port):
        return False
    if distro_daemon_running(distro):
        warn(f"port {port} is in use by Debian's own {distro} service; stopping it")
        run(["service", distro, "stop"], capture_output=True)
        for _ in range(50):
            if not port_listening(port):
                return False
            time.sleep(0.2)
    if healthy is not None and healthy():
        warn(f"{name}: port {port} is served by a process NOT started by services.sh; using it")
        warn(f"  stop/start/restart {name} cannot control it. Owner: {port_owner(port)}")
        r.foreign.add(name)
        return True
    raise Fail(
        f"cannot start {name}: port {port} is already in use by a process this script did not"
        f" start ({port_owner(port)}); stop that process (or free the port) and run again"
    )


def distro_daemon_running(distro: str) -> bool:
    if not distro or not Path(f"/etc/init.d/{distro}").exists():
        return False
    return run(["service", distro, "status"], capture_output=True).returncode == 0


def check_stopped(r: Run, name: str, port: int) -> None:
    """After stopping our own server (or finding none): is the port still served?"""
    if port_listening(port):
        warn(f"{name}: port {port} is still served by a process NOT started by services.sh")
        warn(f"  (not stopped): {port_owner(port)}")
        r.still_served.add(name)


def foreign_note(port: int) -> str:
    return f"port {port} is in use by another process" if port_listening(port) else ""


# -- the servers ------------------------------------------------------------------------------


def status_line(name: str, state: str, endpoint: str, detail: str = "") -> str:
    return f"{name:<10} {state:<9} {endpoint:<16} {detail}"


class Service:
    """One server: what to install, how to launch, wait for, stop and describe it.

    The hooks do nothing by default (chromium, for one, is install only).
    """

    name: str  # a class attribute; a node of a cluster sets its own

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

    pattern: str  # must be in the process's command line
    check: str  # what readiness means, for messages
    timeout: float = 20
    stop_timeout: float = 10
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
