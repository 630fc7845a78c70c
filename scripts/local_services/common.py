"""Shared machinery: configuration, logging, processes, pid files, ports, waiting, lock, apt.

Every server module builds on ``Service`` (or ``DaemonService`` for a server this tool runs as
its own detached process with a pid file). Errors are raised as ``Fail``: the CLI prints the
tails of the logs it names, then one ``[services] ERROR: ...`` line, and exits 1.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import fcntl
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

PREFIX = "[services]"
PORTS = {  # Config field: (environment variable, default)
    "pg_port": ("ORDER_PG_PORT", 5432),
    "mc_port": ("ORDER_MEMCACHED_PORT", 11211),
    "redis_port": ("ORDER_REDIS_PORT", 6379),
    "kafka_port": ("ORDER_KAFKA_PORT", 9092),
    "kafka_controller_port": ("ORDER_KAFKA_CONTROLLER_PORT", 9093),
    "kafka_sasl_port": ("ORDER_KAFKA_SASL_PORT", 9094),
}


class Fail(Exception):
    """A one-line error; the tails of ``logs`` are shown before it."""

    def __init__(self, message: str, *logs: Path) -> None:
        super().__init__(message)
        self.logs = logs


def log(message: str) -> None:
    print(f"{PREFIX} {message}", flush=True)


def warn(message: str) -> None:
    print(f"{PREFIX} WARNING: {message}", file=sys.stderr, flush=True)


def show_tail(path: Path, lines: int = 60) -> None:
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 256 * 1024))
            tail = f.read().decode(errors="replace").splitlines()[-lines:]
    except OSError:
        tail = []
    if not tail:
        print(f"{PREFIX} (log {path} is missing or empty)", file=sys.stderr)
        return
    print(f"{PREFIX} ----- last {lines} lines of {path} -----", file=sys.stderr)
    print("\n".join(tail), file=sys.stderr)
    print(f"{PREFIX} ----- end of {path} -----", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Config:
    """Everything the environment decides; ports are overridable only to run a second set."""

    repo: Path
    state: Path
    pg_port: int = 5432
    mc_port: int = 11211
    redis_port: int = 6379
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_sasl_port: int = 9094
    kafka_version: str = "4.1.1"
    log4j_version: str = "2.24.3"
    lock_timeout: float = 900.0

    @classmethod
    def from_env(cls, env: Mapping[str, str], repo: Path, cwd: Path) -> Config:
        ports: dict[str, int] = {}
        for key, (var, default) in PORTS.items():
            raw = env.get(var, "") or str(default)
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise Fail(f"{var} must be a TCP port number (1-65535), got {raw!r}")
            ports[key] = int(raw)
        clash = sorted({p for p in ports.values() if list(ports.values()).count(p) > 1})
        if clash:
            raise Fail(
                f"port {clash[0]} is given to two services: check the ORDER_*_PORT variables"
            )
        version = env.get("ORDER_KAFKA_VERSION") or "4.1.1"
        log4j = env.get("ORDER_KAFKA_LOG4J_VERSION") or (
            "2.24.3" if version.startswith("4.1.") else "2.25.3"
        )
        try:
            lock_timeout = float(env.get("SERVICES_LOCK_TIMEOUT") or 900)
        except ValueError:
            raise Fail("SERVICES_LOCK_TIMEOUT must be a number of seconds") from None
        state = cwd / (env.get("ORDER_SERVICES_DIR") or str(repo / ".services"))
        return cls(
            repo,
            state,
            **ports,
            kafka_version=version,
            log4j_version=log4j,
            lock_timeout=lock_timeout,
        )


@dataclass
class Run:
    """One invocation: the config plus what was learned on the way."""

    cfg: Config
    foreign: set[str] = field(default_factory=set)  # ports served by servers not ours
    still_served: set[str] = field(default_factory=set)  # stopped, yet the port still answers
    apt_updated: bool = False


# -- processes --------------------------------------------------------------------------------


Completed = subprocess.CompletedProcess[str]


def run(
    cmd: Sequence[str | Path],
    *,
    capture_output: bool = False,
    stdin: str | None = None,
    stdout: int | None = None,
    env: Mapping[str, str] | None = None,
) -> Completed:
    """subprocess.run in text mode from /, never raising on a non-zero exit."""
    return subprocess.run(
        [str(c) for c in cmd],
        check=False,
        text=True,
        capture_output=capture_output,
        input=stdin,
        stdout=stdout,
        env=env,
        cwd="/",
    )


def argv(template: str, *args: object, **values: object) -> list[str]:
    """Split TEMPLATE on blanks, then fill each word's {fields}: values may contain blanks."""
    count = iter(range(template.count("{}")))
    numbered = re.sub(r"\{\}", lambda _: f"{{{next(count)}}}", template)  # {} {} -> {0} {1}
    return [word.format(*args, **values) for word in numbered.split()]


def as_user(user: str, cmd: Sequence[str | Path]) -> list[str]:
    return ["runuser", "-u", user, "--", *map(str, cmd)]


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


def need_root() -> None:
    if os.geteuid() != 0:
        raise Fail("must run as root (apt-get, runuser postgres)")


def user_can_traverse(path: Path, user: str) -> bool:
    """Can USER reach PATH (search permission on it and every parent)? Ignores ACLs."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return False
    groups = set(os.getgrouplist(user, pw.pw_gid))
    for part in [path, *path.parents]:
        try:
            st = part.stat()
        except OSError:
            return False
        if st.st_uid == pw.pw_uid:
            bit = stat.S_IXUSR
        else:
            bit = stat.S_IXGRP if st.st_gid in groups else stat.S_IXOTH
        if pw.pw_uid != 0 and not st.st_mode & bit:
            return False
    return True


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


# -- lock and apt -----------------------------------------------------------------------------


def take_lock(state: Path, timeout: float) -> int:
    """An exclusive flock on STATE/.lock (the same lock as the former bash script took)."""
    state.mkdir(parents=True, exist_ok=True)
    fd = os.open(state / ".lock", os.O_WRONLY | os.O_CREAT, 0o644)  # close-on-exec
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if not waited:
            log(f"another services.sh is running; waiting for its lock ({state}/.lock)...")
            waited = True
        if time.monotonic() >= deadline:
            raise Fail(f"timed out after {timeout:g}s waiting for the lock {state}/.lock")
        time.sleep(0.2)


def apt_install(r: Run, packages: Sequence[str]) -> None:
    """apt-get install --no-install-recommends, without letting packages start daemons."""
    if not packages:
        return
    need_root()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=600"]
    if not r.apt_updated:
        log("apt-get update")
        if run(["apt-get", "-q", *lock, "update"], env=env, stdout=subprocess.DEVNULL).returncode:
            raise Fail("apt-get update failed")
        r.apt_updated = True
    policy = Path("/usr/sbin/policy-rc.d")  # keeps init scripts from starting Debian's daemons
    created = not policy.exists()
    if created:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    log(f"apt-get install --no-install-recommends {' '.join(packages)}")
    try:
        rc = run(
            [
                "apt-get",
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                *lock,
                "-o",
                "Dpkg::Options::=--force-confdef",
                "-o",
                "Dpkg::Options::=--force-confold",
                *packages,
            ],
            env=env,
        ).returncode
    finally:
        if created:
            policy.unlink(missing_ok=True)
    if rc:
        raise Fail(f"apt-get install {' '.join(packages)} failed (exit {rc})")


# -- services ---------------------------------------------------------------------------------


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
