"""Ports: does one answer or listen, who holds it, and what to do when a server this tool did
not start holds it (stop Debian's own daemon; use any other working server as is)."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from local_services.commands import run
from local_services.config import Run
from local_services.output import Fail, warn


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
