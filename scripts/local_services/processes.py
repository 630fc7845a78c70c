"""Our own detached servers: spawning one with a pid file, telling whether a pid is alive and
ours (by its command line), and stopping it (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from local_services.output import Fail, log, warn
from local_services.waiting import Probe, wait_for


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
