"""The service under measurement as a real process, and what the benchmarks' server
processes have in common.

``ServiceProcess``: ``order-service http``, ``serve`` or ``consume`` started with its
settings as flags (or the service's app on granian), waited for until it can do its work,
and stopped at the end. For it and the lookup phase's reference apps: a free loopback port,
a readiness probe over HTTP, the PYTHONPATH that lets another environment import the bench
and the service, and a polite termination (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from pathlib import Path

from bench.environment import KAFKA, MEMCACHED, REDIS, ROOT
from bench.machine import children


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def python_path() -> dict[str, str]:
    """PYTHONPATH for a server from another environment: the bench and the service."""
    paths = [str(ROOT), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    return {"PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def http_ok(url: str) -> bool:
    try:
        # The URL is our own loopback http:// one.
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _service_command() -> list[str]:
    script = Path(sys.executable).parent / "order-service"
    return [str(script)] if script.exists() else [sys.executable, "-m", "entrypoints.cli"]


class ServiceProcess:
    """``order-service http`` (or ``serve``, or ``consume``) as a process of its own, with
    its settings as flags, started and stopped by the benchmark.

    ``http`` and ``serve`` listen on a free loopback port and are ready once /healthz
    answers and every worker has warmed its cache; ``consume`` is ready once its consumer
    loop runs (its ops port is off). With ``granian`` (the path of a granian executable
    that can import the service), ``http`` runs the service's app on granian instead of
    uvicorn, with the same settings given as environment variables.
    """

    def __init__(
        self,
        database_url: str,
        log_dir: Path,
        settings: Mapping[str, object] | None = None,
        command: str = "http",
        granian: str | None = None,
    ) -> None:
        settings = settings or {}
        self.command = command
        self.serves_http = command in ("http", "serve")
        self.port = free_port() if self.serves_http else 0
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = int(str(settings.get("http_workers", 1)))
        self.warm_up_orders = int(str(settings.get("warm_up_orders", 0)))
        flags: dict[str, object] = {
            "database_url": database_url,
            "memcached_servers": MEMCACHED,
            "redis_url": REDIS,
            "kafka_bootstrap": KAFKA,
            "warm_up_orders": 0,
            "log_level": "INFO",
        }
        if self.serves_http:
            flags |= {"http_host": "127.0.0.1", "http_port": self.port}
        else:
            flags |= {"ops_port": 0}
        flags |= settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDER_SERVICE_")}
        if granian is not None and command == "http":
            args = [
                granian, "--interface", "asgi", "--factory", "--loop", "uvloop",
                "--workers", str(self.workers), "--host", "127.0.0.1", "--port", str(self.port),
                "--no-access-log", "--log-level", "warning",
                "entrypoints.http.asgi:app_from_environment",
            ]  # fmt: skip
            env |= {f"ORDER_SERVICE_{k.upper()}": str(v) for k, v in flags.items()}
            env |= {"ORDER_SERVICE_RUN_CONSUMER": "0", **python_path()}
        else:
            args = [*_service_command(), command]
            for name, value in flags.items():
                args += ["--" + name.replace("_", "-"), str(value)]
        self.log_path = log_dir / f"{command}-{uuid.uuid4().hex[:8]}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until the process can do its work (see the class's description)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited early; see {self.log_path}")
            if self._ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"the service was not ready in {timeout:.0f}s; see {self.log_path}")

    def _ready(self) -> bool:
        if not self.serves_http:
            return "consuming " in self.log_path.read_text(errors="replace")
        return self._healthy() and self._warmed_workers() >= self.workers

    def _healthy(self) -> bool:
        return http_ok(self.url + "/healthz")

    def _warmed_workers(self) -> int:
        if self.warm_up_orders <= 0:
            return self.workers
        text = self.log_path.read_text(errors="replace")
        if "cache warm-up skipped" in text:
            raise RuntimeError(f"cache warm-up failed; see {self.log_path}")
        return text.count("cache warmed up with")

    def rss_bytes(self) -> int:
        """Resident memory of the server process (VmRSS), summed over its worker processes."""
        total = 0
        for pid in [self.process.pid, *children(self.process.pid)]:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        return total

    def stop(self) -> None:
        terminate(self.process)
        self._log.close()

    def __enter__(self) -> ServiceProcess:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
