"""Memcached on 127.0.0.1:PORT (256 MB, UDP off), run as user memcache (else nobody)."""

from __future__ import annotations

import pwd
import shutil
import socket

from local_services.commands import argv
from local_services.config import Run
from local_services.output import log
from local_services.ports import ensure_port_free
from local_services.processes import spawn_daemon
from local_services.service import DaemonService


def memcached_args(port: int, user: str) -> list[str]:
    return argv("memcached -u {} -l 127.0.0.1 -p {} -U 0 -m 256 -c 1024", user, port)


def version(port: int) -> str | None:
    """The server's answer to ``version`` (e.g. "VERSION 1.6.18"), None if it does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.sendall(b"version\r\n")
            line = sock.makefile("rb").readline().decode(errors="replace").strip()
    except OSError:
        return None
    return line if line.startswith("VERSION") else None


def service_user() -> str:
    try:
        pwd.getpwnam("memcache")
    except KeyError:
        return "nobody"
    return "memcache"


class Memcached(DaemonService):
    name = "memcached"
    pattern = "memcached"
    check = "version"

    def __init__(self, r: Run) -> None:
        super().__init__(r)
        self.port = self.cfg.mc_port

    def missing_packages(self) -> list[str]:
        return [] if shutil.which("memcached") else ["memcached"]

    def launch(self) -> None:
        if self.already_running():
            return
        healthy = self.answers
        if ensure_port_free(self.run, self.name, self.port, "memcached", healthy):
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        user = service_user()
        log(f"starting memcached (user {user}, 256 MB)")
        # In the foreground, detached by us: root writes the pid file (memcached -d writes it
        # after dropping privileges, which fails in root-only dirs).
        spawn_daemon(memcached_args(self.port, user), self.pidfile, self.logfile, self.dir)

    def answers(self) -> bool:
        return version(self.port) is not None

    def ready_note(self) -> str:
        return f" ({version(self.port)})"
