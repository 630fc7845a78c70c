"""What the benchmarks run on: the machine, fresh databases and topics, a service process."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import confluent_kafka
import psycopg
from confluent_kafka.admin import AdminClient

from adapters.kafka.topics import ensure_topics
from adapters.postgres.migrations import migrate

# The same variables as tests/integration/conftest.py, so one setting points both elsewhere.
ADMIN_URL = os.environ.get(
    "ORDER_SERVICE_TEST_DATABASE_URL", "postgresql://orders:orders@127.0.0.1:5432/orders"
)
KAFKA = os.environ.get("ORDER_SERVICE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
MEMCACHED = os.environ.get("ORDER_SERVICE_MEMCACHED_SERVERS", "127.0.0.1:11211")
PARTITIONS = 4  # the service's default for the orders topic


class Disturbed(RuntimeError):
    """A server went away during a measurement: the figure is void, the run is repeated."""


def machine() -> dict[str, str]:
    """What a reader needs to compare figures: CPU, cores, memory, and the server versions."""
    return {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": f"{_mem_total_bytes() / 2**30:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": _postgres_version(),
        "kafka": _kafka_version(),
        "librdkafka": confluent_kafka.libversion()[0],
        "wrk": _wrk_version(),
        "code": code_version(),
    }


def servers() -> str:
    """Where the servers were (host:port only: the database URL may hold a password)."""
    pg = psycopg.conninfo.conninfo_to_dict(ADMIN_URL)
    return (
        f"PostgreSQL {pg.get('host', 'localhost')}:{pg.get('port', 5432)}, Kafka {KAFKA}, "
        f"Memcached {MEMCACHED}"
    )


def code_version() -> str:
    """The commit measured, and whether src/ had uncommitted changes on top of it."""

    def git(*args: str) -> str:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD") or "unknown"
        changed = git("status", "--porcelain", "--untracked-files=no", "--", "src")
    except OSError:
        return "unknown"
    return head + (" with uncommitted changes in src/" if changed else "")


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _postgres_version() -> str:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return "unreachable"
    return str(row[0]).split()[0] if row else "unknown"


def _kafka_version() -> str:
    """The version of the broker listening on our port, from its process's class path."""
    port = KAFKA.rsplit(":", 1)[-1]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
            if "kafka.Kafka" not in args:
                continue
            properties = Path(args[args.index("kafka.Kafka") + 1]).read_text()
            if not re.search(rf"^listeners=.*:{port}\b", properties, re.MULTILINE):
                continue
            match = re.search(r"kafka[/_-](\d+\.\d+\.\d+)", " ".join(args))
            return match.group(1) if match else "unknown"
    return "unknown"


def _wrk_version() -> str:
    if shutil.which("wrk") is None:
        return "missing"
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"wrk\s+(\S+)", out.stdout + out.stderr)
    return match.group(1) if match else "unknown"


# -- PostgreSQL and Kafka ----------------------------------------------------------------


def _database_url(name: str) -> str:
    return psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name)


def create_database() -> str:
    """A new, migrated database; returns its URL. Drop it with ``drop_database``."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _database_url(name)
    migrate(url)
    return url


def drop_database(url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)


def create_topic() -> str:
    """A new orders topic (and its dead-letter topic) unique to this benchmark run."""
    name = f"orders-bench-{uuid.uuid4().hex[:10]}"
    ensure_topics(KAFKA, {name: PARTITIONS, f"{name}.dlq": 1})
    return name


def delete_topic(name: str) -> None:
    admin = AdminClient({"bootstrap.servers": KAFKA})
    for future in admin.delete_topics([name, f"{name}.dlq"], operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


# -- the service as a real process --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _service_command() -> list[str]:
    script = Path(sys.executable).parent / "order-service"
    return [str(script)] if script.exists() else [sys.executable, "-m", "entrypoints.cli"]


class ServiceProcess:
    """``order-service http`` on a free loopback port, started and stopped by the benchmark."""

    def __init__(self, database_url: str, log_dir: Path, **settings: object) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = int(str(settings.get("http_workers", 1)))
        self.warm_up_orders = int(str(settings.get("warm_up_orders", 0)))
        flags = {
            "http_host": "127.0.0.1",
            "http_port": self.port,
            "database_url": database_url,
            "memcached_servers": MEMCACHED,
            "kafka_bootstrap": KAFKA,
            "warm_up_orders": 0,
            "log_level": "INFO",
            **settings,
        }
        args = [*_service_command(), "http"]
        for name, value in flags.items():
            args += ["--" + name.replace("_", "-"), str(value)]
        self.log_path = log_dir / f"service-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDER_SERVICE_")}
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until /healthz answers and every worker has finished its cache warm-up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited early; see {self.log_path}")
            if self._healthy() and self._warmed_workers() >= self.workers:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the service was not ready in {timeout:.0f}s; see {self.log_path}")

    def _healthy(self) -> bool:
        try:
            # The URL is our own loopback http:// one.
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

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
        for pid in [self.process.pid, *_children(self.process.pid)]:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
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


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            for child in children:
                found += [int(child), *_children(int(child))]
    return found
