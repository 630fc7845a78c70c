"""``order-service`` processes: their environment, their ports, their lives and logs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from entrypoints.settings import ENV_PREFIX
from tests.faults.harness.paths import ORDER_SERVICE
from tests.integration.conftest import resource_settings


def service_env(database_url: str, topic: str, **changes: object) -> dict[str, str]:
    """The environment of an ``order-service`` process pointed at this test's resources.

    Its ops server is off (port 0) unless the test asks for one: pass ``ops_port=free_port()``
    so that processes never clash over a port.
    """
    settings: dict[str, object] = {
        **resource_settings(database_url, topic),
        "retry_max": 1,
        "batch_size": 500,
        "http_host": "127.0.0.1",
        "ops_port": 0,
        "log_level": "INFO",
    }
    settings.update(changes)
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update({ENV_PREFIX + name.upper(): str(value) for name, value in settings.items()})
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServiceProcess:
    """One ``order-service`` process, its output in a log file under test-artifacts."""

    def __init__(self, command: str, env: Mapping[str, str], log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.proc = subprocess.Popen(
            [ORDER_SERVICE, command],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.flush()

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> tuple[int, float]:
        """Send ``signum`` and wait: (exit code, seconds to exit)."""
        started = time.monotonic()
        self.send(signum)
        code = self.wait(timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.alive:
            self.proc.kill()
            self.proc.wait(10)

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        if self.alive:
            self.proc.send_signal(signal.SIGCONT)  # a frozen process dies as well when killed
        self.kill()
        self._log.close()


Spawn = Callable[[str, Mapping[str, str], str], ServiceProcess]
