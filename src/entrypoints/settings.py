"""The service's settings: one table that drives the environment variables, the CLI flags,
validation and the README's configuration section.

Every setting is read from ``ORDER_SERVICE_<NAME>``; a CLI flag ``--<name>`` overrides it.
A bad value stops the service with one clear line, not a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import attrs

ENV_PREFIX = "ORDER_SERVICE_"


class ConfigError(ValueError):
    """A setting has a value the service cannot use."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be a whole number, 0 or more")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError("must be zero or more")
    return value


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return text

    return parse


def _port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise ValueError("must be a port number (1-65535)")
    return value


def _non_empty(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


def _text(text: str) -> str:
    return text


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


@attrs.frozen
class Setting:
    name: str
    default: str
    parse: Callable[[str], Any]
    help: str
    secret: bool = False

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: tuple[Setting, ...] = (
    Setting("kafka_bootstrap", "localhost:9092", _non_empty, "Kafka bootstrap servers"),
    Setting("kafka_topic", "orders", _non_empty, "topic the orders arrive on"),
    Setting("kafka_dlq_topic", "orders.dlq", _non_empty, "dead-letter topic for invalid messages"),
    Setting("kafka_group", "order-service", _non_empty, "consumer group id"),
    Setting("kafka_partitions", "4", _positive_int, "partitions of the orders topic when created"),
    Setting("batch_size", "500", _positive_int, "messages per consumer batch (one transaction)"),
    Setting("max_message_bytes", "1000000", _positive_int, "larger messages are dead-lettered"),
    Setting("retry_max", "15", _non_negative_float, "cap of the retry backoff, seconds"),
    Setting("repository", "postgres", _choice("postgres", "memory"), "order store"),
    Setting(
        "database_url",
        "postgresql://orders:orders@localhost:5432/orders",
        _non_empty,
        "PostgreSQL connection string",
        secret=True,
    ),
    Setting("db_pool_size", "10", _positive_int, "most PostgreSQL connections per process"),
    Setting("cache_backend", "memory", _choice("memory", "memcached", "redis"), "cache backend"),
    Setting("cache_max_entries", "100000", _positive_int, "memory cache: most entries"),
    Setting("cache_max_bytes", "268435456", _positive_int, "memory cache: most bytes"),
    Setting("cache_ttl", "0", _non_negative_float, "cache entry lifetime, seconds (0: none)"),
    Setting("negative_ttl", "5", _non_negative_float, "how long an unknown id is cached, s"),
    Setting("memcached_servers", "localhost:11211", _non_empty, "comma-separated host:port list"),
    Setting("redis_url", "redis://localhost:6379/0", _non_empty, "Redis URL", secret=True),
    Setting(
        "warm_up_orders",
        "10000",
        _non_negative_int,
        "orders loaded into the cache at start (0: off)",
    ),
    Setting("warm_up_timeout", "5", _non_negative_float, "most seconds start waits for warm-up"),
    Setting("http_host", "0.0.0.0", _non_empty, "HTTP listen address"),  # noqa: S104
    Setting("http_port", "8080", _port, "HTTP port"),
    Setting("http_workers", "1", _positive_int, "HTTP worker processes"),
    Setting("admin_token", "", _text, "token for /admin endpoints (empty: disabled)", secret=True),
    Setting("log_format", "text", _choice("text", "json"), "log format"),
    Setting("log_level", "INFO", _choice("DEBUG", "INFO", "WARNING", "ERROR"), "log level"),
)


def load(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, str | None] | None = None
) -> dict[str, Any]:
    """Read every setting: override (CLI flag), else environment, else default."""
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = overrides.get(setting.name)
        source = setting.flag
        if raw is None:
            raw = environ.get(setting.env)
            source = setting.env
        if raw is None:
            raw, source = setting.default, "default"
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            shown = "***" if setting.secret else repr(raw)
            raise ConfigError(f"{source}={shown}: {exc}") from None
    return values
