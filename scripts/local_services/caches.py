"""The two cache servers, each our own plain daemon on 127.0.0.1:PORT, told ready by a
one-line exchange on its port: Memcached (256 MB, UDP off, run as user memcache, else nobody;
``version``) and Redis (a cache only: no RDB snapshots, no AOF; ``PING``)."""

from __future__ import annotations

import pwd
import shutil
import socket
from pathlib import Path

from local_services.config import Run
from local_services.output import log
from local_services.service import DaemonService, ensure_port_free, spawn_daemon
from local_services.system import argv

# -- memcached --------------------------------------------------------------------------------


def memcached_args(port: int, user: str) -> list[str]:
    return argv("memcached -u {} -l 127.0.0.1 -p {} -U 0 -m 256 -c 1024", user, port)


def memcached_version(port: int) -> str | None:
    """The server's answer to ``version`` (e.g. "VERSION 1.6.18"), None if it does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.sendall(b"version\r\n")
            line = sock.makefile("rb").readline().decode(errors="replace").strip()
    except OSError:
        return None
    return line if line.startswith("VERSION") else None


def memcached_user() -> str:
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
        user = memcached_user()
        log(f"starting memcached (user {user}, 256 MB)")
        # In the foreground, detached by us: root writes the pid file (memcached -d writes it
        # after dropping privileges, which fails in root-only dirs).
        spawn_daemon(memcached_args(self.port, user), self.pidfile, self.logfile, self.dir)

    def answers(self) -> bool:
        return memcached_version(self.port) is not None

    def ready_note(self) -> str:
        return f" ({memcached_version(self.port)})"


# -- redis ------------------------------------------------------------------------------------


def redis_args(port: int, directory: Path, logfile: Path) -> list[str]:
    template = "redis-server --port {} --bind 127.0.0.1 --daemonize no --dir {} --logfile {}"
    return [*argv(template, port, directory, logfile), "--save", "", "--appendonly", "no"]


def ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            return sock.makefile("rb").readline().strip() == b"+PONG"
    except OSError:
        return False


class Redis(DaemonService):
    name = "redis"
    pattern = "redis-server"
    check = "PING"
    stop_timeout = 15

    def __init__(self, r: Run) -> None:
        super().__init__(r)
        self.port = self.cfg.redis_port

    def missing_packages(self) -> list[str]:
        tools = {"redis-server": "redis-server", "redis-cli": "redis-tools"}
        return [pkg for tool, pkg in tools.items() if not shutil.which(tool)]

    def launch(self) -> None:
        if self.already_running():
            return
        if ensure_port_free(self.run, self.name, self.port, "redis-server", self.answers):
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        log("starting redis")
        args = redis_args(self.port, self.dir, self.logfile)
        spawn_daemon(args, self.pidfile, self.logfile, self.dir)

    def answers(self) -> bool:
        return ping(self.port)
