"""PostgreSQL on 127.0.0.1:PORT: role/password/db ``orders``, plus db ``orders_test``.

Its set-up as text (where the cluster lives, its postgresql.conf include, the SQL that creates
the ``orders`` role and databases, Debian's clusters on our port, the newest server binaries to
run), and the server itself: initdb, pg_ctl start and stop as the ``postgres`` user.

Data, socket and log live in STATE/postgres/, or, when the ``postgres`` user cannot reach the
state dir (e.g. a clone under /root) or the socket path would be too long, in
/var/lib/postgresql/order-service/<hash of the state dir>/.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from local_services.config import Run
from local_services.output import Fail, log, warn
from local_services.service import DaemonService, check_stopped, ensure_port_free
from local_services.system import Completed, argv, as_user, run, user_can_traverse

TIMEOUT = 60
HASHED_ROOT = Path("/var/lib/postgresql/order-service")
BOOTSTRAP_SQL = r"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'orders') THEN
    CREATE ROLE orders LOGIN CREATEDB PASSWORD 'orders';
  ELSE ALTER ROLE orders LOGIN CREATEDB PASSWORD 'orders'; END IF;
END $$;
SELECT format('CREATE DATABASE %I OWNER orders', d) FROM unnest(ARRAY['orders', 'orders_test']) d
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d)
\gexec
"""


def pg_root(state: Path, reachable: bool) -> Path:
    direct = state / "postgres"
    if reachable and len(str(direct)) + 25 <= 100:  # unix socket paths are limited to 107 bytes
        return direct
    return HASHED_ROOT / hashlib.sha256(str(state).encode()).hexdigest()[:12]


def render_conf(port: int, socket_dir: Path) -> str:
    return f"""\
# Written by scripts/services.sh on every start; edit scripts/local_services, not this file.
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = 200
shared_buffers = 256MB
# Durability is under test: keep fsync and friends on.
fsync = on
synchronous_commit = on
full_page_writes = on
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
"""


def debian_clusters_on(pg_lsclusters: str, port: int) -> list[tuple[str, str]]:
    """(version, name) of Debian's clusters online on PORT, from ``pg_lsclusters -h``."""
    rows = (line.split() for line in pg_lsclusters.splitlines())
    return [(r[0], r[1]) for r in rows if len(r) > 3 and r[2] == str(port) and r[3] == "online"]


def newest_bindir(base: Path = Path("/usr/lib/postgresql")) -> Path | None:
    def complete(d: Path) -> bool:
        return all(os.access(d / x, os.X_OK) for x in ("postgres", "initdb", "pg_ctl"))

    found = [d for d in base.glob("*/bin") if d.parent.name.isdigit() and complete(d)]
    return max(found, key=lambda d: int(d.parent.name), default=None)


def cluster_bindir(data: Path) -> Path:
    """The binaries for the cluster in DATA: its version's, or the newest for a new cluster."""
    if not (data / "PG_VERSION").exists():
        if found := newest_bindir():
            return found
        raise Fail("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin")
    version = (data / "PG_VERSION").read_text().strip()
    if not (bindir := Path(f"/usr/lib/postgresql/{version}/bin")).joinpath("postgres").exists():
        hint = "run: scripts/services.sh reset-data"
        raise Fail(f"{data} is PostgreSQL {version}, not installed in {bindir} ({hint})")
    return bindir


class Postgres(DaemonService):
    name, pattern, check, timeout = "postgres", "postgres", "pg_isready", TIMEOUT

    def __init__(self, r: Run) -> None:
        super().__init__(r)
        state, self.port = self.cfg.state, self.cfg.pg_port
        reachable = user_can_traverse(state if state.exists() else state.parent, "postgres")
        self.dir = pg_root(state, reachable)
        self.data, self.sock = self.dir / "data", self.dir / "run"
        self.logfile, self.pidfile = self.dir / "postgres.log", self.data / "postmaster.pid"

    def missing_packages(self) -> list[str]:
        return [] if newest_bindir() and shutil.which("psql") else ["postgresql"]

    def prepare(self, installed: Sequence[str]) -> None:
        self.stop_debian_clusters()

    def stop_debian_clusters(self) -> None:
        if not shutil.which("pg_lsclusters"):
            return
        clusters = run(["pg_lsclusters", "-h"], capture_output=True).stdout
        for ver, name in debian_clusters_on(clusters, self.port):
            warn(f"Debian's PostgreSQL {ver}/{name} is running on port {self.port}; stopping it")
            if run(["pg_ctlcluster", ver, name, "stop"]).returncode:
                warn(f"pg_ctlcluster {ver} {name} stop failed")

    def bindir(self) -> Path:
        return cluster_bindir(self.data)

    def pg(self, template: str, stdin: str | None = None) -> Completed:
        """Run a command as the postgres user; {bin} {data} {log} {sock} {port} are filled in."""
        paths = {"bin": self.bindir(), "data": self.data, "log": self.logfile, "sock": self.sock}
        cmd = argv(template, port=self.port, **paths)
        return run(as_user("postgres", cmd), capture_output=True, stdin=stdin)

    def init(self) -> None:
        for d in (self.dir, self.sock, self.data):
            d.mkdir(parents=True, exist_ok=True)
            shutil.chown(d, "postgres", "postgres")
        self.dir.chmod(0o700)
        self.data.chmod(0o700)
        if (self.data / "PG_VERSION").exists():
            return
        log(f"initializing PostgreSQL cluster in {self.data}")
        auth = "--auth-local=trust --auth-host=scram-sha-256"
        initdb = self.pg(f"{{bin}}/initdb -D {{data}} -U postgres -E UTF8 --locale=C.UTF-8 {auth}")
        (self.dir / "initdb.log").write_text(initdb.stdout + initdb.stderr)
        if initdb.returncode:
            shutil.rmtree(self.data, ignore_errors=True)
            raise Fail("initdb failed", self.dir / "initdb.log")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# order-service test settings (scripts/services.sh)\n")
            conf.write("include_if_exists = 'order-service.conf'\n")

    def launch(self) -> None:
        if self.already_running():
            return
        bindir = self.bindir()
        self.stop_debian_clusters()
        if ensure_port_free(self.run, self.name, self.port, healthy=self.login_works):
            return
        self.init()
        (self.data / "order-service.conf").write_text(render_conf(self.port, self.sock))
        self.logfile.touch()
        for path in (self.data / "order-service.conf", self.logfile):
            shutil.chown(path, "postgres", "postgres")
        log(f"starting postgres ({bindir}, data {self.data})")
        # A stale postmaster.pid (after a crash / SIGKILL) is handled by postgres itself.
        start = f"{{bin}}/pg_ctl -D {{data}} -l {{log}} -w -t {TIMEOUT} start"
        if (out := self.pg(start)).returncode:
            raise Fail(f"pg_ctl start failed: {out.stderr.strip()}", self.logfile)

    def login_works(self) -> bool:
        url = f"postgresql://orders:orders@127.0.0.1:{self.port}/orders?connect_timeout=3"
        return run(["psql", url, "-qAtXc", "select 1"], capture_output=True).returncode == 0

    def answers(self) -> bool:
        isready = argv("{}/pg_isready -q -h 127.0.0.1 -p {} -t 2", self.bindir(), self.port)
        return run(isready).returncode == 0

    def after_ready(self) -> None:
        psql = "{bin}/psql -h {sock} -p {port} -U postgres -d postgres -v ON_ERROR_STOP=1 -qAtX"
        if (out := self.pg(psql, stdin=BOOTSTRAP_SQL)).returncode:
            raise Fail(f"could not create role/databases for orders: {out.stderr.strip()}")

    def ready_note(self) -> str:
        return f" (postgresql://orders:orders@{self.endpoint}/orders)"

    def stop(self) -> None:
        if (pid := self.pid()) is None:
            log("postgres: not running")
        else:
            log(f"stopping postgres (pid {pid})...")
            if self.pg("{bin}/pg_ctl -D {data} -w -m fast -t 60 stop").returncode:
                warn("fast shutdown failed; trying immediate")
                if self.pg("{bin}/pg_ctl -D {data} -w -m immediate -t 30 stop").returncode:
                    raise Fail("could not stop postgres", self.logfile)
            log("postgres stopped")
        check_stopped(self.run, self.name, self.port)

    def status_detail(self) -> str:
        return f", data {self.data}"
