"""What the environment decides (``Config``), and what one invocation learns (``Run``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from local_services.output import Fail

PORTS = {  # Config field: (environment variable, default)
    "pg_port": ("ORDER_PG_PORT", 5432),
    "mc_port": ("ORDER_MEMCACHED_PORT", 11211),
    "redis_port": ("ORDER_REDIS_PORT", 6379),
    "kafka_port": ("ORDER_KAFKA_PORT", 9092),
    "kafka_controller_port": ("ORDER_KAFKA_CONTROLLER_PORT", 9093),
    "kafka_sasl_port": ("ORDER_KAFKA_SASL_PORT", 9094),
}


@dataclass(frozen=True)
class ClusterPorts:
    """The ports of the local cluster (``services.sh up cluster``), all from one base
    (ORDER_CLUSTER_BASE_PORT, default 19000), apart from the single-node set's."""

    base: int = 19000

    def kafka(self, node: int) -> int:  # nodes 1-3: PLAINTEXT
        return self.base + 90 + node

    def kafka_controller(self, node: int) -> int:
        return self.base + 190 + node

    def kafka_sasl(self, node: int) -> int:
        return self.base + 290 + node

    def kafka_bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.kafka(n)}" for n in (1, 2, 3))

    def postgres(self, node: int) -> int:  # nodes 1-2, under Patroni
        return self.base + 432 + node

    def patroni_api(self, node: int) -> int:
        return self.base + 80 + node

    @property
    def pgbouncer(self) -> int:
        return self.base + 432

    @property
    def etcd_client(self) -> int:
        return self.base + 379

    @property
    def etcd_peer(self) -> int:
        return self.base + 380

    def redis(self, node: int) -> int:  # nodes 1-6: three primaries, three replicas
        return self.base + 700 + node

    def memcached(self, node: int) -> int:  # nodes 1-2
        return self.base + 210 + node

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ClusterPorts:
        raw = env.get("ORDER_CLUSTER_BASE_PORT", "") or "19000"
        if not raw.isdigit() or not 1024 <= int(raw) <= 64000:
            raise Fail(f"ORDER_CLUSTER_BASE_PORT must be a port from 1024 to 64000, got {raw!r}")
        return cls(int(raw))


@dataclass(frozen=True)
class Config:
    """Everything the environment decides; ports are overridable only to run a second set."""

    repo: Path
    state: Path
    pg_port: int = 5432
    mc_port: int = 11211
    redis_port: int = 6379
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_sasl_port: int = 9094
    kafka_version: str = "4.1.1"
    log4j_version: str = "2.24.3"
    lock_timeout: float = 900.0
    cluster: ClusterPorts = field(default_factory=ClusterPorts)

    @classmethod
    def from_env(cls, env: Mapping[str, str], repo: Path, cwd: Path) -> Config:
        ports: dict[str, int] = {}
        for key, (var, default) in PORTS.items():
            raw = env.get(var, "") or str(default)
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise Fail(f"{var} must be a TCP port number (1-65535), got {raw!r}")
            ports[key] = int(raw)
        clash = sorted({p for p in ports.values() if list(ports.values()).count(p) > 1})
        if clash:
            raise Fail(
                f"port {clash[0]} is given to two services: check the ORDER_*_PORT variables"
            )
        version = env.get("ORDER_KAFKA_VERSION") or "4.1.1"
        log4j = env.get("ORDER_KAFKA_LOG4J_VERSION") or (
            "2.24.3" if version.startswith("4.1.") else "2.25.3"
        )
        try:
            lock_timeout = float(env.get("SERVICES_LOCK_TIMEOUT") or 900)
        except ValueError:
            raise Fail("SERVICES_LOCK_TIMEOUT must be a number of seconds") from None
        state = cwd / (env.get("ORDER_SERVICES_DIR") or str(repo / ".services"))
        return cls(
            repo,
            state,
            **ports,
            kafka_version=version,
            log4j_version=log4j,
            lock_timeout=lock_timeout,
            cluster=ClusterPorts.from_env(env),
        )


@dataclass
class Run:
    """One invocation: the config plus what was learned on the way."""

    cfg: Config
    foreign: set[str] = field(default_factory=set)  # ports served by servers not ours
    still_served: set[str] = field(default_factory=set)  # stopped, yet the port still answers
    apt_updated: bool = False
