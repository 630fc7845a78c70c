"""PostgreSQL's set-up, as text: where the cluster lives, its postgresql.conf include, the SQL
that creates the ``orders`` role and databases, Debian's clusters on our port, and the newest
server binaries to run."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from local_services.output import Fail

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
