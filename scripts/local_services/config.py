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
        )


@dataclass
class Run:
    """One invocation: the config plus what was learned on the way."""

    cfg: Config
    foreign: set[str] = field(default_factory=set)  # ports served by servers not ours
    still_served: set[str] = field(default_factory=set)  # stopped, yet the port still answers
    apt_updated: bool = False
