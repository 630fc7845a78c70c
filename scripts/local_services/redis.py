"""Redis on 127.0.0.1:PORT, a cache only: no RDB snapshots, no AOF."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from local_services.commands import argv
from local_services.config import Run
from local_services.output import log
from local_services.ports import ensure_port_free
from local_services.processes import spawn_daemon
from local_services.service import DaemonService


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
