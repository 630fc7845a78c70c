"""PostgreSQL of the local cluster: a primary and a streaming hot standby under Patroni,
which keeps its leader lease in etcd (``pg-cluster``), and PgBouncer in transaction mode in
front of the primary (``pgbouncer``).

Why Patroni: it is the high-availability manager most PostgreSQL clusters run (on machines
and behind the Kubernetes operators), the leader is whoever holds a lease in a consensus
store, so two primaries cannot both believe they lead, and ``synchronous_mode`` lets only
a standby that has every acknowledged commit be promoted: a failover loses no order the
consumer saw committed. pg_auto_failover would have come from Debian, but its monitor is one
more PostgreSQL that decides alone.

Patroni comes from PyPI, pinned by hash (scripts/cluster/patroni-requirements.txt), into a
venv of Debian's python3 under /opt/order-service, keyed by the pins' digest; etcd and
PgBouncer are Debian's. Patroni and PgBouncer run as the ``postgres`` user (``setpriv``, so
that the pid file holds the server itself); their files are where that user can reach them,
as for the single node's PostgreSQL (see postgres.py).

Roles: ``postgres`` (superuser, password ``postgres-cluster``), ``replicator``, ``rewinder``
(Patroni's own), and ``orders``/``orders`` owning ``orders`` and ``orders_test`` as on the
single node. A failover in the tests is what production does: the leader's Patroni and its
PostgreSQL killed, the lease expiring after ``ttl``, the synchronous standby promoted, and
the old primary rejoining as a standby (``pg_rewind``) when its Patroni starts again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from local_services.cluster import NodeGroup
from local_services.config import Run
from local_services.output import Fail, log
from local_services.postgres import BOOTSTRAP_SQL, HASHED_ROOT, newest_bindir
from local_services.service import DaemonService, Probe, await_ready, spawn_daemon
from local_services.system import as_user, run, user_can_traverse

REQUIREMENTS = Path(__file__).resolve().parent.parent / "cluster" / "patroni-requirements.txt"
SUPERUSER_PASSWORD = "postgres-cluster"  # noqa: S105 - a local test cluster's
SCOPE = "order-service"
# The lease: a leader that stops renewing it loses it after TTL seconds (Patroni's least),
# and each node looks every LOOP_WAIT seconds.
TTL, LOOP_WAIT, RETRY_TIMEOUT = 20, 2, 5


def cluster_root(state: Path) -> Path:
    """Where the postgres user keeps the cluster's files."""
    direct = state / "pg-cluster"
    reachable = user_can_traverse(state if state.exists() else state.parent, "postgres")
    if reachable and len(str(direct)) + 30 <= 100:  # unix socket paths are limited
        return direct
    return HASHED_ROOT / (hashlib.sha256(str(state).encode()).hexdigest()[:12] + "-cluster")


def patroni_venv() -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    return Path("/opt/order-service") / f"patroni-{digest}"


def install_patroni() -> Path:
    venv = patroni_venv()
    if (venv / ".complete").exists():
        return venv
    log(f"installing Patroni into {venv} (pip --require-hashes, {REQUIREMENTS.name})")
    shutil.rmtree(venv, ignore_errors=True)
    if run(["/usr/bin/python3", "-m", "venv", venv]).returncode:
        raise Fail("python3 -m venv failed (is python3-venv installed?)")
    pip: list[str | Path] = [
        venv / "bin/pip",
        "install",
        "-q",
        "--no-deps",
        "--require-hashes",
        "-r",
        REQUIREMENTS,
    ]
    if (out := run(pip, capture_output=True)).returncode:
        raise Fail(f"pip install of Patroni failed: {out.stderr[-2000:]}")
    (venv / ".complete").write_text(REQUIREMENTS.read_text())
    return venv


def as_postgres(cmd: Sequence[str | Path]) -> list[str]:
    """CMD as the postgres user, in the same process (the pid is the server's)."""
    setpriv = ["setpriv", "--reuid", "postgres", "--regid", "postgres", "--init-groups", "--"]
    return [*setpriv, *map(str, cmd)]


def http_json(url: str, timeout: float = 2.0) -> tuple[int, dict[str, object]]:
    """(status, body) of a GET; (0, {}) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {}
    except (OSError, ValueError):
        return 0, {}


# -- etcd: the consensus store holding the leader's lease --------------------------------------


class Etcd(DaemonService):
    name, check = "etcd", "/health"

    def __init__(self, r: Run) -> None:
        super().__init__(r)
        self.port, self.peer = self.cfg.cluster.etcd_client, self.cfg.cluster.etcd_peer
        self.dir = self.cfg.state / "pg-cluster" / "etcd"
        self.pidfile, self.logfile = self.dir / "etcd.pid", self.dir / "etcd.log"
        self.pattern = f"--data-dir {self.dir / 'data'}"

    def missing_packages(self) -> list[str]:
        return [] if shutil.which("etcd") else ["etcd-server"]

    def launch(self) -> None:
        if self.already_running():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        client, peer = f"http://127.0.0.1:{self.port}", f"http://127.0.0.1:{self.peer}"
        cmd = [
            "etcd",
            "--name",
            "order-service",
            "--data-dir",
            str(self.dir / "data"),
            "--listen-client-urls",
            client,
            "--advertise-client-urls",
            client,
            "--listen-peer-urls",
            peer,
            "--initial-advertise-peer-urls",
            peer,
            "--initial-cluster",
            f"order-service={peer}",
        ]
        log(f"starting etcd on :{self.port}")
        spawn_daemon(cmd, self.pidfile, self.logfile, self.dir)

    def answers(self) -> bool:
        status, body = http_json(f"http://127.0.0.1:{self.port}/health")
        return status == 200 and body.get("health") == "true"


# -- Patroni nodes ---------------------------------------------------------------------------


def render_patroni(
    node: int, root: Path, ports: tuple[int, int, int], bindir: Path, etcd: int
) -> str:
    """patroni.yml for node N; PORTS = (PostgreSQL, Patroni REST API, etcd unused)."""
    pg_port, api_port, _ = ports
    here = root / f"node-{node}"
    return f"""\
# Written by scripts/services.sh on every start; edit scripts/local_services/patroni.py.
scope: {SCOPE}
name: pg-{node}
log:
  level: INFO
  format: '%(asctime)s %(levelname)s: %(message)s'
restapi:
  listen: 127.0.0.1:{api_port}
  connect_address: 127.0.0.1:{api_port}
etcd3:
  hosts: 127.0.0.1:{etcd}
bootstrap:
  dcs:
    ttl: {TTL}
    loop_wait: {LOOP_WAIT}
    retry_timeout: {RETRY_TIMEOUT}
    maximum_lag_on_failover: 1048576
    # Only a standby that confirmed every commit may be promoted: nothing acknowledged is
    # lost. Not strict: with the standby gone, the primary goes on alone.
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: 200
        shared_buffers: 128MB
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        fsync: 'on'
        synchronous_commit: 'on'
        full_page_writes: 'on'
        timezone: UTC
        log_timezone: UTC
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - data-checksums
postgresql:
  listen: 127.0.0.1:{pg_port}
  connect_address: 127.0.0.1:{pg_port}
  data_dir: {here / "data"}
  bin_dir: {bindir}
  pgpass: {here / "pgpass"}
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
  authentication:
    superuser:
      username: postgres
      password: {SUPERUSER_PASSWORD}
    replication:
      username: replicator
      password: replicator-cluster
    rewind:
      username: rewinder
      password: rewinder-cluster
  parameters:
    unix_socket_directories: '{here / "run"}'
    log_line_prefix: '%m [%p] %q%u@%d '
"""


class PatroniNode(DaemonService):
    check = "Patroni /health"
    timeout, stop_timeout = 120, 40

    def __init__(self, r: Run, node: int, root: Path) -> None:
        self.node, self.name = node, f"pg-{node}"
        super().__init__(r)
        ports = self.cfg.cluster
        self.port, self.api = ports.postgres(node), ports.patroni_api(node)
        self.root, self.dir = root, root / f"node-{node}"
        self.config = self.dir / "patroni.yml"
        self.pidfile, self.logfile = self.dir / "patroni.pid", self.dir / "patroni.log"
        self.pattern = str(self.config)

    def missing_packages(self) -> list[str]:
        missing = [] if newest_bindir() and shutil.which("psql") else ["postgresql"]
        venv_ok = run(["/usr/bin/python3", "-c", "import ensurepip, venv"]).returncode == 0
        return missing if venv_ok else [*missing, "python3-venv"]

    def prepare(self, installed: Sequence[str]) -> None:
        install_patroni()

    def launch(self) -> None:
        if self.already_running():
            return
        bindir = newest_bindir()
        if bindir is None:
            raise Fail("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin")
        for d in (self.root, self.dir, self.dir / "run"):
            d.mkdir(parents=True, exist_ok=True)
            shutil.chown(d, "postgres", "postgres")
            d.chmod(0o700)
        ports = (self.port, self.api, 0)
        text = render_patroni(self.node, self.root, ports, bindir, self.cfg.cluster.etcd_client)
        self.config.write_text(text)
        self.logfile.touch()
        for path in (self.config, self.logfile):
            shutil.chown(path, "postgres", "postgres")
        log(f"starting {self.name} (Patroni, PostgreSQL :{self.port}, REST :{self.api})")
        cmd = as_postgres([install_patroni() / "bin/patroni", self.config])
        spawn_daemon(cmd, self.pidfile, self.logfile, self.dir)

    def role(self) -> str:
        """What Patroni says this node is ("primary", "replica", ...; "" when it is down)."""
        status, body = http_json(f"http://127.0.0.1:{self.api}/patroni")
        return str(body.get("role", "")) if status else ""

    def answers(self) -> bool:
        return http_json(f"http://127.0.0.1:{self.api}/health")[0] == 200

    def status_detail(self) -> str:
        return f", {self.role() or 'no answer'}, PostgreSQL :{self.port}, REST :{self.api}"

    def stop(self) -> None:
        """Patroni stops its PostgreSQL on SIGTERM; one it left running (Patroni was killed:
        the postmaster is detached from it) is stopped here."""
        super().stop()
        bindir, data = newest_bindir(), self.dir / "data"
        if bindir is None or not (data / "postmaster.pid").exists():
            return
        stopped = run(as_user("postgres", [bindir / "pg_ctl", "-D", data, "-m", "fast", "stop"]))
        if stopped.returncode == 0:
            log(f"{self.name}: stopped the PostgreSQL its Patroni had left running")


class PgCluster(NodeGroup):
    name = "pg-cluster"

    def __init__(self, r: Run) -> None:
        super().__init__(r)
        root = cluster_root(self.cfg.state)
        self.members = [PatroniNode(r, n, root) for n in (1, 2)]
        self.nodes = [Etcd(r), *self.members]

    def prepare(self, installed: Sequence[str]) -> None:
        install_patroni()

    def leader(self) -> PatroniNode | None:
        found = [
            m for m in self.members if http_json(f"http://127.0.0.1:{m.api}/primary")[0] == 200
        ]
        return found[0] if len(found) == 1 else None

    def joined(self) -> None:
        def settled() -> Probe:
            # A leader, and a synchronous standby streaming from it.
            if self.leader() is None:
                return Probe.WAIT
            sync = [
                m for m in self.members if http_json(f"http://127.0.0.1:{m.api}/sync")[0] == 200
            ]
            return Probe.READY if sync else Probe.WAIT

        logs = [m.logfile for m in self.members]
        await_ready("pg-cluster (a leader and a synchronous standby)", 120, settled, *logs)
        leader = self.leader()
        assert leader is not None
        url = f"postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{leader.port}/postgres"
        out = run(
            ["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtX"],
            capture_output=True,
            stdin=BOOTSTRAP_SQL,
        )
        if out.returncode:
            raise Fail(f"could not create role/databases for orders: {out.stderr.strip()}")
        hosts = ",".join(f"127.0.0.1:{m.port}" for m in self.members)
        log(
            f"pg-cluster: ready, leader {leader.name}; postgresql://orders:orders@{hosts}/orders"
            "?target_session_attrs=read-write"
        )


# -- PgBouncer --------------------------------------------------------------------------------


def render_pgbouncer(port: int, primary: int, directory: Path) -> str:
    # Every database of the primary (the tests make one per session).
    databases = f"* = host=127.0.0.1 port={primary}"
    return f"""\
; Written by scripts/services.sh on every start; edit scripts/local_services/patroni.py.
; In front of the primary found at start: `services.sh restart pgbouncer` follows a failover.
[databases]
{databases}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {directory / "userlist.txt"}
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
reserve_pool_size = 5
server_connect_timeout = 3
server_login_retry = 1
query_wait_timeout = 10
server_idle_timeout = 60
ignore_startup_parameters = extra_float_digits
admin_users = orders
logfile = {directory / "pgbouncer.log"}
"""


class PgBouncer(DaemonService):
    name, check = "pgbouncer", "SELECT 1 through it"
    timeout = 30

    def __init__(self, r: Run) -> None:
        super().__init__(r)
        self.port = self.cfg.cluster.pgbouncer
        self.dir = cluster_root(self.cfg.state) / "pgbouncer"
        self.ini = self.dir / "pgbouncer.ini"
        self.pidfile, self.logfile = self.dir / "pgbouncer.pid", self.dir / "pgbouncer.out"
        self.pattern = str(self.ini)

    def missing_packages(self) -> list[str]:
        return [] if shutil.which("pgbouncer") else ["pgbouncer"]

    def launch(self) -> None:
        """Nothing yet: PgBouncer points at the primary, known once pg-cluster is ready."""

    def wait(self) -> None:
        self.start()
        super().wait()

    def start(self) -> None:
        if self.already_running():
            return
        leader = PgCluster(self.run).leader()
        if leader is None:
            raise Fail("pgbouncer: pg-cluster has no leader (run: scripts/services.sh up cluster)")
        for d in (self.dir.parent, self.dir):
            d.mkdir(parents=True, exist_ok=True)
            shutil.chown(d, "postgres", "postgres")
        (self.dir / "userlist.txt").write_text('"orders" "orders"\n')
        self.ini.write_text(render_pgbouncer(self.port, leader.port, self.dir))
        for path in (self.dir / "userlist.txt", self.ini):
            shutil.chown(path, "postgres", "postgres")
            path.chmod(0o600)
        log(f"starting pgbouncer 1.18 on :{self.port} (transaction mode) -> {leader.name}")
        spawn_daemon(as_postgres(["pgbouncer", self.ini]), self.pidfile, self.logfile, self.dir)

    def answers(self) -> bool:
        url = f"postgresql://orders:orders@127.0.0.1:{self.port}/orders?connect_timeout=3"
        return run(["psql", url, "-qAtXc", "select 1"], capture_output=True).returncode == 0

    def logs(self) -> list[Path]:
        return [self.logfile, self.dir / "pgbouncer.log"]
