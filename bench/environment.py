"""What the benchmarks run on: the machine, fresh databases and topics, a service process."""

from __future__ import annotations

import contextlib
import hashlib
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
from collections.abc import Iterator, Mapping
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
REDIS = os.environ.get("ORDER_SERVICE_REDIS_URL", "redis://127.0.0.1:6379/0")
PARTITIONS = 4  # the service's default for the orders topic
ROOT = Path(__file__).resolve().parent.parent


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
    redis = REDIS.split("@")[-1].removeprefix("redis://")
    return (
        f"PostgreSQL {pg.get('host', 'localhost')}:{pg.get('port', 5432)}, Kafka {KAFKA}, "
        f"Memcached {MEMCACHED}, Redis {redis}"
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


def src_fingerprint() -> str:
    """A digest of the service's Python code as it is on disk now (committed or not): a run
    is measured on one code only if this is the same at its start and its end."""
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted((ROOT / "src").rglob("*.py")):
        with contextlib.suppress(OSError):
            digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


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
    found = _kafka_broker()
    if found is None:
        return "unknown"
    match = re.search(r"kafka[/_-](\d+\.\d+\.\d+)", " ".join(found[1]))
    return match.group(1) if match else "unknown"


def _kafka_broker() -> tuple[int, list[str]] | None:
    """(pid, command line) of the broker process listening on our Kafka port."""
    port = KAFKA.rsplit(":", 1)[-1]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
            if "kafka.Kafka" not in args:
                continue
            properties = Path(args[args.index("kafka.Kafka") + 1]).read_text()
            if re.search(rf"^listeners=.*:{port}\b", properties, re.MULTILINE):
                return int(cmdline.parent.name), args
    return None


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
    """Drop a database of ours, ending its sessions.

    WITH (FORCE) refuses when an autovacuum worker happens to be in the database (it has
    no role we may signal); a plain DROP cancels autovacuum itself, so it is tried next,
    a few times while sessions are closing.
    """
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        try:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.errors.InsufficientPrivilege:
            pass
        for attempt in range(10):
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except psycopg.errors.ObjectInUse:
                if attempt == 9:
                    raise
                time.sleep(1)


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)


def create_topic(partitions: int = PARTITIONS) -> str:
    """A new orders topic (and its dead-letter topic) unique to this benchmark run."""
    name = f"orders-bench-{uuid.uuid4().hex[:10]}"
    ensure_topics(KAFKA, {name: partitions, f"{name}.dlq": 1})
    return name


def delete_topic(name: str) -> None:
    admin = AdminClient({"bootstrap.servers": KAFKA})
    for future in admin.delete_topics([name, f"{name}.dlq"], operation_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


_GROUPS: list[str] = []


def new_group(kind: str) -> str:
    """A new consumer group id, deleted by ``delete_groups`` at the end of the run."""
    name = f"bench-{kind}-{uuid.uuid4().hex[:10]}"
    _GROUPS.append(name)
    return name


def delete_groups() -> None:
    """Delete the consumer groups of this run (their members have all left by then)."""
    if not _GROUPS:
        return
    admin = AdminClient({"bootstrap.servers": KAFKA})
    for future in admin.delete_consumer_groups(list(_GROUPS), request_timeout=30).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)
    _GROUPS.clear()


# -- the service as a real process --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
            env |= {"ORDER_SERVICE_RUN_CONSUMER": "0", **_python_path()}
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
        _terminate(self.process)
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


class ReferenceProcess:
    """A reference ASGI app of ``bench.reference_apps``, one worker, no access log: on
    uvicorn with the service's own server settings (uvloop, httptools), or on granian
    (uvloop) given the path of its executable."""

    def __init__(
        self, app: str, body_file: Path, log_dir: Path, granian: str | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        where = ["--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"]
        if granian is None:
            args = [
                sys.executable, "-m", "uvicorn", f"bench.reference_apps:{app}", *where,
                "--loop", "uvloop", "--http", "httptools", "--log-level", "warning",
                "--lifespan", "off",
            ]  # fmt: skip
        else:
            args = [
                granian, "--interface", "asginl", "--loop", "uvloop", "--workers", "1", *where,
                "--log-level", "warning", f"bench.reference_apps:{app}",
            ]  # fmt: skip
        self.log_path = log_dir / f"reference-{app}-{self.port}.log"
        self._log = self.log_path.open("wb")
        env = {**os.environ, "BENCH_BODY_FILE": str(body_file), **_python_path()}
        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    def __enter__(self) -> ReferenceProcess:
        deadline = time.monotonic() + 30
        while not http_ok(self.url + "/order?id=x"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"the reference app did not start; see {self.log_path}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        _terminate(self.process)
        self._log.close()


def _python_path() -> dict[str, str]:
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


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def children(pid: int) -> list[int]:
    """Every descendant process of ``pid``."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *children(int(child))]
    return found


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time used so far by these processes (those still there)."""
    return sum(cpu_seconds_of(Path(f"/proc/{pid}/stat")) for pid in pids)


def cpu_seconds_of(stat: Path, reaped_children: bool = False) -> float:
    """User plus system CPU time in a /proc/.../stat file (0 if it is gone); with
    ``reaped_children``, that of its children that have ended too."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        # The command name (field 2) may hold spaces: split after its closing bracket.
        fields = stat.read_text().rsplit(")", 1)[1].split()
        used = int(fields[11]) + int(fields[12])
        if reaped_children:
            used += int(fields[13]) + int(fields[14])
        return used / _CLOCK_TICKS
    return 0.0


_SERVERS = ("postgres", "memcached", "redis-server")


def foreign_cpu_seconds() -> float:
    """CPU time used so far by the processes that are neither this benchmark (with its
    children) nor the shared servers, with their ended children: other people's work on the
    machine. PostgreSQL and the Kafka broker serve them too, so this is a lower bound of
    what they take."""
    ours = {os.getpid(), *children(os.getpid())}
    broker = kafka_broker_pid()
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        pid = int(stat.parent.name)
        if pid in ours or pid == broker:
            continue
        with contextlib.suppress(OSError):
            if (stat.parent / "comm").read_text().strip() in _SERVERS:
                continue
        total += cpu_seconds_of(stat, reaped_children=True)
    return total


def backend_pids(database_url: str) -> list[int]:
    """The PostgreSQL server processes serving connections to this database now."""
    name = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return [int(row[0]) for row in rows]


def kafka_broker_pid() -> int | None:
    """The process of the broker listening on our Kafka port (to read its CPU time)."""
    found = _kafka_broker()
    return None if found is None else found[0]
