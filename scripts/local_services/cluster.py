"""The local cluster, beside the single-node set and on its own ports (``ClusterPorts``):
three Kafka brokers (``kafka-cluster``), a Redis Cluster of three primaries with a replica
each (``redis-cluster``) and two Memcached nodes (``memcached-pair``). PostgreSQL under
Patroni and PgBouncer are in ``patroni.py``.

Each is a ``NodeGroup``: several of the single-node servers' daemons, each with its own
directory under STATE/<group>/node-N, launched together (so the JVMs boot in parallel) and
waited for together; a group is ready when every node is, and then whatever joins them
(the Redis Cluster's slots) is done once.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path

from local_services.caches import Memcached, Redis, redis_args
from local_services.config import Run
from local_services.kafka import KAFKA_DIR, Kafka, render_properties
from local_services.output import Fail, log
from local_services.service import DaemonService, Probe, Service, await_ready, spawn_daemon
from local_services.system import run


class NodeGroup(Service):
    """Several daemons run as one service: launched, waited for and stopped together."""

    nodes: Sequence[DaemonService]

    def missing_packages(self) -> list[str]:
        return list(dict.fromkeys(p for n in self.nodes for p in n.missing_packages()))

    def prepare(self, installed: Sequence[str]) -> None:
        self.nodes[0].prepare(installed)

    def launch(self) -> None:
        for node in self.nodes:
            node.launch()

    def wait(self) -> None:
        for node in self.nodes:
            node.wait()
        self.joined()

    def joined(self) -> None:
        """Once every node answers: what makes them one cluster."""

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()

    def data_dirs(self) -> list[Path]:
        return [d for n in self.nodes for d in n.data_dirs()]

    def status(self) -> str:
        return "\n".join(node.status() for node in self.nodes)


# -- Kafka: three combined KRaft nodes --------------------------------------------------------


class ClusterBroker(Kafka):
    """One of the three brokers: the single node's broker with its own ports and files, a
    quorum of three listed voters, and the cluster's shared id."""

    timeout = 180  # three JVMs booting at once on two cores
    standalone = False

    def __init__(self, r: Run, node: int) -> None:
        super().__init__(r)
        ports = self.cfg.cluster
        self.node, self.name = node, f"kafka-{node}"
        self.port, self.sasl_port = ports.kafka(node), ports.kafka_sasl(node)
        self.controller_port = ports.kafka_controller(node)
        self.group_dir = self.cfg.state / "kafka-cluster"
        self.place_in(self.group_dir / f"node-{node}")

    def rendered(self) -> str:
        ports = self.cfg.cluster
        voters = ",".join(f"{n}@127.0.0.1:{ports.kafka_controller(n)}" for n in (1, 2, 3))
        template = (KAFKA_DIR / "cluster-server.properties").read_text()
        template = template.replace("@NODE_ID@", str(self.node)).replace("@VOTERS@", voters)
        return render_properties(
            template, self.data, self.port, self.controller_port, self.sasl_port
        )

    def cluster_id_file(self) -> Path:
        self.group_dir.mkdir(parents=True, exist_ok=True)
        return self.group_dir / "cluster.id"

    def after_ready(self) -> None:
        """The SCRAM user was written into the quorum's first metadata at format time."""


class KafkaCluster(NodeGroup):
    name = "kafka-cluster"

    def __init__(self, r: Run) -> None:
        super().__init__(r)
        self.nodes = [ClusterBroker(r, n) for n in (1, 2, 3)]

    def joined(self) -> None:
        log(f"kafka-cluster: ready, bootstrap {self.cfg.cluster.kafka_bootstrap()}")


# -- Redis Cluster: three primaries, three replicas -------------------------------------------

NODE_TIMEOUT_MS = 2000  # a dead primary's replica takes over within a few seconds


def redis_cluster_args(port: int, directory: Path, logfile: Path) -> list[str]:
    cluster = ["--cluster-enabled", "yes", "--cluster-config-file", str(directory / "nodes.conf")]
    timing = ["--cluster-node-timeout", str(NODE_TIMEOUT_MS)]
    # A cache: the primaries whose slots are served go on serving while one fails over.
    timing += ["--cluster-require-full-coverage", "no"]
    # A replica serves reads of its slots while its primary is gone only if asked; we keep the
    # default (it does not), so a lookup never reads a stale entry.
    return [*redis_args(port, directory, logfile), *cluster, *timing]


def cluster_info(port: int) -> dict[str, str]:
    """CLUSTER INFO of one node, as a dict ({} if it does not answer within 3 s)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.sendall(b"CLUSTER INFO\r\n")
            reply = sock.makefile("rb")
            header = reply.readline()
            if not header.startswith(b"$"):
                return {}
            text = reply.read(int(header[1:]) + 2).decode(errors="replace")
    except (OSError, ValueError):
        return {}
    info: dict[str, str] = {}
    for line in text.splitlines():
        key, colon, value = line.strip().partition(":")
        if colon:
            info[key] = value
    return info


class RedisClusterNode(Redis):
    def __init__(self, r: Run, node: int) -> None:
        super().__init__(r)
        self.name, self.port = f"redis-{node}", r.cfg.cluster.redis(node)
        self.dir = self.cfg.state / "redis-cluster" / f"node-{node}"
        self.pidfile, self.logfile = self.dir / "redis.pid", self.dir / "redis.log"

    def launch(self) -> None:
        if self.already_running():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        log(f"starting {self.name} (cluster mode) on :{self.port}")
        args = redis_cluster_args(self.port, self.dir, self.logfile)
        spawn_daemon(args, self.pidfile, self.logfile, self.dir)


class RedisCluster(NodeGroup):
    name = "redis-cluster"

    def __init__(self, r: Run) -> None:
        super().__init__(r)
        self.nodes = [RedisClusterNode(r, n) for n in range(1, 7)]

    def joined(self) -> None:
        ports = [n.port for n in self.nodes]
        if cluster_info(ports[0]).get("cluster_slots_assigned") != "16384":
            log("redis-cluster: assigning the slots (3 primaries, a replica each)")
            create = ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports)]
            out = run([*create, "--cluster-replicas", "1", "--cluster-yes"], capture_output=True)
            if out.returncode:
                raise Fail(f"redis-cli --cluster create failed: {out.stdout[-2000:]}{out.stderr}")

        def ok() -> Probe:
            states = [cluster_info(p).get("cluster_state") for p in ports]
            return Probe.READY if all(s == "ok" for s in states) else Probe.WAIT

        await_ready("redis-cluster (cluster_state:ok on every node)", 60, ok, self.nodes[0].logfile)
        log(f"redis-cluster: ready, nodes {','.join(f'127.0.0.1:{p}' for p in ports)}")


# -- Memcached: two nodes ---------------------------------------------------------------------


class MemcachedNode(Memcached):
    def __init__(self, r: Run, node: int) -> None:
        super().__init__(r)
        self.name, self.port = f"memcached-{node}", r.cfg.cluster.memcached(node)
        self.dir = self.cfg.state / "memcached-pair" / f"node-{node}"
        self.pidfile, self.logfile = self.dir / "memcached.pid", self.dir / "memcached.log"


class MemcachedPair(NodeGroup):
    name = "memcached-pair"

    def __init__(self, r: Run) -> None:
        super().__init__(r)
        self.nodes = [MemcachedNode(r, n) for n in (1, 2)]
