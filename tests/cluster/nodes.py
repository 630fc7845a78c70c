"""The local cluster's nodes (``scripts/services.sh up cluster``), as the tests see them:
where each runs, found with the services tool's own classes (the same pid files, ports and
state directory), and how a node dies: ``kill_node`` freezes a node's whole process tree
(SIGSTOP, so that nothing of it can react) and then SIGKILLs all of it, as a machine that
loses power; ``frozen_node`` stops it answering (a host cut off) until it is let go.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from confluent_kafka.admin import AdminClient

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO / "scripts"))

from local_services.cluster import ClusterBroker, MemcachedNode, RedisClusterNode  # noqa: E402
from local_services.config import ClusterPorts, Config, Run  # noqa: E402
from local_services.patroni import PatroniNode, PgBouncer, PgCluster  # noqa: E402

CONFIG = Config.from_env(os.environ, REPO, REPO)
PORTS: ClusterPorts = CONFIG.cluster
KAFKA = PORTS.kafka_bootstrap()
DATABASE = (
    "postgresql://orders:orders@"
    + ",".join(f"127.0.0.1:{PORTS.postgres(n)}" for n in (1, 2))
    + "/orders?target_session_attrs=read-write&connect_timeout=3"
)
PGBOUNCER = f"postgresql://orders:orders@127.0.0.1:{PORTS.pgbouncer}/orders"
REDIS = f"redis://127.0.0.1:{PORTS.redis(1)}/0"
MEMCACHED = ",".join(f"127.0.0.1:{PORTS.memcached(n)}" for n in (1, 2))
GROUPS = ("kafka-cluster", "pg-cluster", "pgbouncer", "redis-cluster", "memcached-pair")


def _run() -> Run:
    return Run(CONFIG)


def broker(node: int) -> ClusterBroker:
    return ClusterBroker(_run(), node)


def pg_cluster() -> PgCluster:
    return PgCluster(_run())


def pg_node(node: int) -> PatroniNode:
    return pg_cluster().members[node - 1]


def pgbouncer() -> PgBouncer:
    return PgBouncer(_run())


def redis_node(node: int) -> RedisClusterNode:
    return RedisClusterNode(_run(), node)


def memcached_node(node: int) -> MemcachedNode:
    return MemcachedNode(_run(), node)


def leading_broker(topic: str) -> tuple[int, int]:
    """The broker that leads the most partitions of TOPIC, and how many it leads."""
    admin = AdminClient({"bootstrap.servers": KAFKA})
    partitions = admin.list_topics(topic, timeout=20).topics[topic].partitions.values()
    leaders = collections.Counter(p.leader for p in partitions)
    node, count = leaders.most_common(1)[0]
    return int(node), count


def descendants(pid: int) -> list[int]:
    """PID and every process under it."""
    parents: dict[int, list[int]] = collections.defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        parents[parent].append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def kill_node(*roots: int) -> list[int]:
    """A machine losing power: the process trees under ROOTS frozen, then all killed."""
    tree = [p for root in roots for p in descendants(root)]
    _signal_all(tree, signal.SIGSTOP)
    tree = [p for root in roots for p in descendants(root)]  # nothing can have forked since
    _signal_all(tree, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in tree):
        if time.monotonic() > deadline:
            raise AssertionError(f"processes {tree} survived SIGKILL")
        time.sleep(0.05)
    return tree


def pg_processes(node: PatroniNode) -> list[int]:
    """A PostgreSQL host's processes: its Patroni and its postmaster, which Patroni starts
    detached (its parent is init), each with what runs under it."""
    roots = [node.pid()]
    with contextlib.suppress(OSError, IndexError, ValueError):  # not running
        roots.append(int((node.dir / "data" / "postmaster.pid").read_text().split()[0]))
    return [pid for pid in roots if pid is not None and _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@contextlib.contextmanager
def frozen_node(*roots: int) -> Iterator[list[int]]:
    """A host cut off: every process of the node stops (SIGSTOP) until the block ends. Its
    sockets stay open and connections to its ports are accepted by the kernel, but nothing
    answers: what a peer sees of a host behind a dead link."""
    tree = [p for root in roots for p in descendants(root)]
    _signal_all(tree, signal.SIGSTOP)
    try:
        yield tree
    finally:
        _signal_all([p for root in roots for p in descendants(root)], signal.SIGCONT)


def services_sh(action: str, name: str) -> float:
    """``scripts/services.sh ACTION NAME`` (``up`` starts what of it is down and waits until
    it is whole); the seconds it took."""
    from tests.faults.harness.servers import services  # noqa: PLC0415 - reads the endpoints

    started = time.monotonic()
    services(action, name)
    return time.monotonic() - started


def start(group: str) -> float:
    return services_sh("up", group)


def stopped_nodes() -> list[str]:
    """The cluster's nodes that are not running."""
    run = _run()
    nodes = [*(ClusterBroker(run, n) for n in (1, 2, 3)), *PgCluster(run).nodes]
    nodes += [RedisClusterNode(run, n) for n in range(1, 7)]
    nodes += [MemcachedNode(run, n) for n in (1, 2)]
    return [node.name for node in nodes if node.pid() is None]
