"""The test kit: where the test servers are, the settings and environment that point the
service at them, free ports, and ``order-service`` processes with their logs.

Every suite (integration, faults, browser) launches and configures the service through
this module, so a new setting or server is added here once.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import httpx

from entrypoints.settings import ENV_PREFIX, Settings, load

# The servers scripts/services.sh starts (override each for servers elsewhere).
ADMIN_URL = os.environ.get(
    "ORDER_SERVICE_TEST_DATABASE_URL", "postgresql://orders:orders@127.0.0.1:5432/orders"
)
KAFKA = os.environ.get("ORDER_SERVICE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
KAFKA_SASL = os.environ.get("ORDER_SERVICE_TEST_KAFKA_SASL", "127.0.0.1:9094")
MEMCACHED = os.environ.get("ORDER_SERVICE_MEMCACHED_SERVERS", "127.0.0.1:11211")
REDIS = os.environ.get("ORDER_SERVICE_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def order_service_command() -> str:
    """The installed ``order-service`` command (beside this Python, else on the PATH)."""
    beside_python = Path(sys.executable).with_name("order-service")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("order-service")
    if found is None:
        raise RuntimeError("the order-service command is not installed (scripts/python-env.sh)")
    return found


def resource_settings(database_url: str, topic: str) -> dict[str, object]:
    """The settings that point a service at this test's servers, topic and database (no
    warm-up: a test's database starts empty)."""
    return {
        "kafka_bootstrap": KAFKA,
        "kafka_topic": topic,
        "kafka_dlq_topic": f"{topic}.dlq",
        "kafka_group": f"group-{topic}",
        "database_url": database_url,
        "memcached_servers": MEMCACHED,
        "redis_url": REDIS,
        "warm_up_orders": 0,
    }


def service_settings(database_url: str, topic: str, **changes: Any) -> Settings:
    """Settings as the service would load them, pointed at this test's resources."""
    overrides = {**resource_settings(database_url, topic), **changes}
    return load({}, {k: str(v) for k, v in overrides.items()})


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


class ServiceProcess:
    """One ``order-service`` process, its output in a log file under test-artifacts."""

    def __init__(self, command: str, env: Mapping[str, str], log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.proc = subprocess.Popen(
            [order_service_command(), command],
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


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    processes: Iterable[ServiceProcess] = (),
    every: float = 0.2,
) -> float:
    """Wait for ``condition``; fail at once if a watched process died. Returns the seconds."""
    started = time.monotonic()
    watched = list(processes)
    while True:
        if condition():
            return time.monotonic() - started
        for process in watched:
            if not process.alive:
                raise AssertionError(
                    f"{process.log_path.name} exited ({process.proc.returncode}) while waiting "
                    f"for {what}:\n{process.output()[-3000:]}"
                )
        if time.monotonic() - started > timeout:
            said = "".join(
                f"\n{process.log_path.name} said:\n{process.output()[-3000:]}"
                for process in watched
            )
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{said}")
        time.sleep(every)


def http_up(url: str) -> Callable[[], bool]:
    """True once ``url`` answers at all (any status)."""

    def check() -> bool:
        try:
            httpx.get(url, timeout=2)
        except httpx.TransportError:
            return False
        return True

    return check
