"""The command line of scripts/services.sh: parse, pick the services, run the command, one
services.sh at a time (an exclusive flock on STATE/.lock, waited for)."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from local_services.caches import Memcached, Redis
from local_services.chromium import Chromium
from local_services.cluster import KafkaCluster, MemcachedPair, RedisCluster
from local_services.config import Config, Run
from local_services.kafka import MECHANISM, PASSWORD, USER, Kafka
from local_services.output import PREFIX, Fail, log, show_tail
from local_services.patroni import PgBouncer, PgCluster
from local_services.postgres import Postgres
from local_services.service import Service
from local_services.system import apt_install, need_root

REPO = Path(__file__).resolve().parents[2]
SERVICES: dict[str, type[Service]] = {
    "postgres": Postgres,
    "memcached": Memcached,
    "redis": Redis,
    "kafka": Kafka,
    "chromium": Chromium,
    "kafka-cluster": KafkaCluster,
    "pg-cluster": PgCluster,
    "pgbouncer": PgBouncer,  # after pg-cluster: it points at the primary
    "redis-cluster": RedisCluster,
    "memcached-pair": MemcachedPair,
}
CORE = ("postgres", "memcached", "redis", "kafka")
CLUSTER = ("kafka-cluster", "pg-cluster", "pgbouncer", "redis-cluster", "memcached-pair")
ALL = tuple(name for name in SERVICES if name not in CLUSTER)
ALIASES = {
    "postgresql": "postgres",
    "pg": "postgres",
    "memcache": "memcached",
    "chrome": "chromium",
}
USAGE = f"""\
Local backing services for order-service: PostgreSQL, Memcached, Redis, Kafka (KRaft),
plus Chromium (install only). No Docker, no systemd: Debian packages + Maven Central jars.

  scripts/services.sh up [SERVICE...]       install where missing, start, wait until ready
  scripts/services.sh down [SERVICE...]     stop (idempotent)
  scripts/services.sh start|stop|restart SERVICE...
  scripts/services.sh status [SERVICE...]   one line per service
  scripts/services.sh install [SERVICE...]  install only (apt packages, Kafka jars)
  scripts/services.sh reset-data            stop all, wipe data dirs (jar cache is kept)

SERVICE: {" ".join(ALL)}, or "all"; the cluster's {" ".join(CLUSTER)}, or "cluster".
No SERVICE for up/down/install = {" ".join(CORE)} (chromium only with "all"; the cluster
only with "cluster").

Endpoints (loopback only): PostgreSQL 127.0.0.1:5432 (role/password/db "orders", plus db
"orders_test"), Memcached 127.0.0.1:11211, Redis 127.0.0.1:6379, Kafka 127.0.0.1:9092
PLAINTEXT (KRaft controller 127.0.0.1:9093) and 127.0.0.1:9094 SASL_PLAINTEXT with
{MECHANISM}, user "{USER}" password "{PASSWORD}".

The cluster (on ports from ORDER_CLUSTER_BASE_PORT, default 19000): Kafka brokers
127.0.0.1:19091-19093 (SASL :19291-19293), PostgreSQL under Patroni 127.0.0.1:19433 and
:19434 (use both with target_session_attrs=read-write; Patroni REST :19081, :19082; etcd
:19379), PgBouncer :19432 (transaction mode, in front of the primary found at its start),
Redis Cluster :19701-19706, Memcached :19211 and :19212. Data under STATE/kafka-cluster,
STATE/pg-cluster (or /var/lib/postgresql/order-service/<hash>-cluster), STATE/redis-cluster,
STATE/memcached-pair.

Environment:
  ORDER_SERVICES_DIR   state dir (data, logs, pid files); default <repo>/.services
  ORDER_KAFKA_VERSION  default 4.1.1 (4.2.0 works too); jars resolved by Maven once into
                       <repo>/.cache/kafka/<version>/libs
  ORDER_KAFKA_LOG4J_VERSION  log4j2 binding; default 2.24.3 for 4.1.x, 2.25.3 otherwise
  SERVICES_LOCK_TIMEOUT  seconds to wait for another running services.sh (default 900)
  ORDER_CLUSTER_BASE_PORT  the cluster's ports are this plus fixed offsets (default 19000)
  ORDER_PG_PORT ORDER_MEMCACHED_PORT ORDER_REDIS_PORT ORDER_KAFKA_PORT
  ORDER_KAFKA_CONTROLLER_PORT ORDER_KAFKA_SASL_PORT  port overrides (only for running a
                       second set: use the same variables for every command)

Logs (under the state dir): postgres/postgres.log, memcached/memcached.log,
redis/redis.log, kafka/logs/server.log (+ kafka.out: JVM stdout/stderr and Kafka tools).
When the "postgres" user cannot reach the state dir (e.g. a clone under /root),
PostgreSQL's data, socket and log go to /var/lib/postgresql/order-service/<hash>/ instead.
A port already served by a process this tool did not start: Debian's own daemon is
stopped; any other server is used as is if it answers (with a warning), and then
stop/restart of that service exit non-zero, since they cannot break it.
The code: scripts/local_services/ (Python 3.11 standard library only).
"""


class UsageError(Fail):
    """A wrong command: the usage goes to stderr before the error."""


@dataclass(frozen=True)
class Command:
    action: str  # up down start stop restart status install reset-data help usage
    services: tuple[str, ...] = ()


def select(args: Sequence[str], default: Sequence[str]) -> tuple[str, ...]:
    """Service names in the order given, aliases resolved, "all" expanded, no duplicates."""
    if not args:
        return tuple(default)
    names: list[str] = []
    for arg in args:
        name = ALIASES.get(arg, arg)
        if name not in ("all", "cluster") and name not in SERVICES:
            raise Fail(f"unknown service '{arg}' (one of: {' '.join(SERVICES)}, all, cluster)")
        group = {"all": ALL, "cluster": CLUSTER}.get(name, (name,))
        names.extend(n for n in group if n not in names)
    return tuple(names)


def parse(argv: Sequence[str]) -> Command:
    action, args = (argv[0], argv[1:]) if argv else ("usage", [])
    if action in ("up", "down", "install"):
        return Command(action, select(args, CORE))
    if action in ("start", "stop", "restart"):
        if not args:
            raise Fail(f"usage: scripts/services.sh {action} SERVICE...")
        return Command(action, select(args, ()))
    if action == "status":
        return Command(action, select(args, ALL + CLUSTER))
    if action == "reset-data":
        return Command(action, select(args, CORE))
    if action in ("-h", "--help", "help"):
        return Command("help")
    if action == "usage":
        return Command(action)
    raise UsageError(f"unknown command '{action}'")


def launch_order(services: Sequence[Service]) -> list[Service]:
    """Kafka first: its JVMs boot while the others start."""
    return sorted(services, key=lambda s: not s.name.startswith("kafka"))


def install(r: Run, services: Sequence[Service]) -> None:
    wanted = {s.name: s.missing_packages() for s in services}
    apt_install(r, list(dict.fromkeys(p for pkgs in wanted.values() for p in pkgs)))
    for s in services:
        s.prepare(wanted[s.name])


def up(r: Run, services: Sequence[Service]) -> None:
    start = time.monotonic()
    install(r, services)
    for s in launch_order(services):
        s.launch()
    for s in services:
        s.wait()
    names = " ".join(s.name for s in services)
    log(f"up: {names} ready ({time.monotonic() - start:.0f}s)")


def down(r: Run, services: Sequence[Service], action: str = "") -> None:
    for s in reversed(services):
        s.stop()
    if action and r.still_served:
        names = " ".join(sorted(r.still_served))
        raise Fail(f"{action}: {names}: still served by a process services.sh did not start")


def take_lock(state: Path, timeout: float) -> int:
    """An exclusive flock on STATE/.lock (the same lock as the former bash script took)."""
    state.mkdir(parents=True, exist_ok=True)
    fd = os.open(state / ".lock", os.O_WRONLY | os.O_CREAT, 0o644)  # close-on-exec
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if not waited:
            log(f"another services.sh is running; waiting for its lock ({state}/.lock)...")
            waited = True
        if time.monotonic() >= deadline:
            raise Fail(f"timed out after {timeout:g}s waiting for the lock {state}/.lock")
        time.sleep(0.2)


def execute(cmd: Command, r: Run) -> None:
    services = [SERVICES[name](r) for name in cmd.services]
    if cmd.action == "status":
        for s in services:
            print(s.status(), flush=True)
        return
    need_root()
    lock = take_lock(r.cfg.state, r.cfg.lock_timeout)  # held until the process exits
    try:
        if cmd.action in ("up", "start"):
            up(r, services)
        elif cmd.action == "down":
            down(r, services)
        elif cmd.action in ("stop", "restart"):
            down(r, services, cmd.action)
            if cmd.action == "restart":
                up(r, services)
        elif cmd.action == "install":
            install(r, services)
            log(f"install: {' '.join(cmd.services)} done")
        elif cmd.action == "reset-data":
            down(r, services)
            dirs = [d for s in services for d in s.data_dirs()]
            log(f"wiping data: {' '.join(map(str, dirs))}")
            for d in dirs:
                shutil.rmtree(d, ignore_errors=True)
            log(f"reset-data done (Kafka jar cache kept in {r.cfg.repo}/.cache/kafka)")
    finally:
        os.close(lock)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        cmd = parse(sys.argv[1:] if argv is None else argv)
        if cmd.action in ("help", "usage"):
            print(USAGE, end="")
            return 0 if cmd.action == "help" else 2
        execute(cmd, Run(Config.from_env(os.environ, REPO, Path.cwd())))
    except Fail as exc:
        if isinstance(exc, UsageError):
            print(USAGE, end="", file=sys.stderr)
        for path in exc.logs:
            show_tail(path)
        print(f"{PREFIX} ERROR: {exc}", file=sys.stderr, flush=True)
        return 1
    except BrokenPipeError:  # e.g. `status | head -1`: end quietly, as a shell tool would
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # a file or directory we cannot write, a program we cannot run
        print(f"{PREFIX} ERROR: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(f"{PREFIX} interrupted", file=sys.stderr)
        return 130
    return 0
