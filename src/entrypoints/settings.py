"""The service's settings: one typed, frozen class whose fields are the one table of
settings. Each field gives its default, its parser and its help; the environment variables,
the CLI flags, validation and the README's configuration table all come from it.

Every setting is read from ``ORDER_SERVICE_<NAME>``; a CLI flag ``--<name>`` overrides it.
A bad value stops the service with one clear line, not a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from order_core.cache_admin import DEFAULT_WARM_UP_ORDERS
from order_core.cache_gateway import DEFAULT_NEGATIVE_TTL
from order_core.ingest import DEFAULT_MAX_MESSAGE_BYTES

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


def _replication_factor(text: str) -> int:
    value = int(text)
    if value == 0 or value < -1:
        raise ValueError("must be a positive integer, or -1 for the broker's default")
    return value


def _switch(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):
        raise ValueError("must be zero or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise ValueError("must be more than zero")
    return value


def _poll_seconds(text: str) -> float:
    value = float(text)
    if not (value == 0 or 1 <= value < float("inf")):
        raise ValueError("must be 0 (off) or at least 1 second")
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


def properties(text: str) -> dict[str, str]:
    """``key=value`` pairs separated by ';' or new lines (librdkafka properties)."""
    result: dict[str, str] = {}
    for part in text.replace("\n", ";").split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value pairs separated by ';', got {part.strip()!r}")
        result[key.strip()] = value.strip()
    return result


def _valid_properties(text: str) -> str:
    properties(text)
    return text


def setting(default: Any, parse: Callable[[str], Any], help: str, *, secret: bool = False) -> Any:
    """A field of Settings: its default, how to parse its text, what it is for. A secret is
    never shown (not in errors, not in the settings' repr) and may come from a file
    (``SECRET_FILES``)."""
    return attrs.field(
        default=default,
        metadata={"parse": parse, "help": help, "secret": secret},
        repr=not secret,
    )


@attrs.frozen(kw_only=True)
class Settings:
    kafka_bootstrap: str = setting("localhost:9092", _non_empty, "Kafka bootstrap servers")
    kafka_topic: str = setting("orders", _non_empty, "topic the orders arrive on")
    kafka_dlq_topic: str = setting("orders.dlq", _non_empty, "dead-letter topic")
    kafka_group: str = setting("order-service", _non_empty, "consumer group id")
    kafka_partitions: int = setting(4, _positive_int, "partitions of the orders topic if created")
    kafka_dlq_partitions: int = setting(
        1, _positive_int, "partitions of the dead-letter topic if created"
    )
    kafka_create_topics: bool = setting(
        True, _switch, "create the topics when missing (false: a user without the ACL)"
    )
    kafka_replication_factor: int = setting(
        -1, _replication_factor, "replication of topics it creates (-1: the broker's default)"
    )
    kafka_min_insync_replicas: int = setting(
        0, _non_negative_int, "min.insync.replicas of topics it creates (0: the broker's)"
    )
    kafka_dlq_retention_days: float = setting(
        30.0, _non_negative_float, "how long the dead-letter topic it creates keeps them (0: ever)"
    )
    kafka_security_protocol: str = setting(
        "PLAINTEXT",
        _choice("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
        "Kafka security.protocol",
    )
    kafka_sasl_mechanism: str = setting(
        "SCRAM-SHA-512",
        _choice("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"),
        "SASL mechanism (with a SASL_* protocol)",
    )
    kafka_sasl_username: str = setting("", _text, "SASL user name")
    kafka_sasl_password: str = setting("", _text, "SASL password", secret=True)
    kafka_sasl_password_file: str = setting("", _text, "file holding the SASL password")
    kafka_ssl_ca_location: str = setting("", _text, "CA certificate file for SSL/SASL_SSL")
    kafka_config: str = setting(
        "", _valid_properties, "any other librdkafka properties: 'key=value;key=value'", secret=True
    )
    batch_size: int = setting(500, _positive_int, "messages per consumer batch")
    batch_max_bytes: int = setting(
        16 * 1024 * 1024, _positive_int, "consumer batch: most bytes of keys and values"
    )
    max_message_bytes: int = setting(
        DEFAULT_MAX_MESSAGE_BYTES, _positive_int, "larger messages are dead-lettered"
    )
    retry_max: float = setting(15.0, _non_negative_float, "cap of the retry backoff, seconds")
    ready_max_stall: float = setting(
        60.0,
        _non_negative_float,
        "/readyz fails once work waits and no batch completed for this long, s (0: never)",
    )
    shutdown_timeout: float = setting(
        10.0, _positive_float, "on SIGTERM, most seconds the batch in hand may take"
    )
    repository: str = setting("postgres", _choice("postgres", "memory"), "order store")
    database_url: str = setting(
        "postgresql://orders:orders@localhost:5432/orders",
        _non_empty,
        "PostgreSQL connection string",
        secret=True,
    )
    db_migration_url: str = setting(
        "",
        _text,
        "PostgreSQL connection string for migrations only (empty: database_url)",
        secret=True,
    )
    db_prepared_statements: bool = setting(
        True,
        _switch,
        "server-side prepared statements (false: PgBouncer < 1.21 in transaction mode)",
    )
    db_pool_size: int = setting(10, _positive_int, "PostgreSQL connections for lookups")
    db_statement_timeout: float = setting(
        30.0, _positive_float, "a save's statement_timeout, s (abandoned 5 s later)"
    )
    db_lock_timeout: float = setting(10.0, _positive_float, "a save's lock_timeout, s")
    db_tcp_timeout: float = setting(
        15.0, _positive_float, "a silent PostgreSQL peer is given up after this, s"
    )
    cache_backend: str = setting("memory", _choice("memory", "memcached", "redis"), "cache backend")
    cache_max_entries: int = setting(100_000, _positive_int, "memory cache: most entries")
    cache_max_bytes: int = setting(256 * 1024 * 1024, _positive_int, "memory cache: most bytes")
    near_cache_max_entries: int = setting(
        50_000, _non_negative_int, "memcached/redis: orders kept in process too (0: off)"
    )
    near_cache_max_bytes: int = setting(
        64 * 1024 * 1024, _positive_int, "memcached/redis: bytes kept in process at most"
    )
    cache_ttl: float = setting(0.0, _non_negative_float, "cache entry lifetime, s (0: none)")
    negative_ttl: float = setting(
        DEFAULT_NEGATIVE_TTL, _non_negative_float, "how long an unknown id is cached, s"
    )
    memcached_servers: str = setting("localhost:11211", _non_empty, "host:port,host:port")
    redis_url: str = setting("redis://localhost:6379/0", _non_empty, "Redis URL", secret=True)
    redis_cluster: bool = setting(
        False, _switch, "redis_url is a node of a Redis Cluster (the others are found from it)"
    )
    warm_up_orders: int = setting(
        DEFAULT_WARM_UP_ORDERS, _non_negative_int, "orders loaded into the cache at start"
    )
    warm_up_timeout: float = setting(5.0, _non_negative_float, "most seconds start waits for it")
    http_host: str = setting(
        "127.0.0.1", _non_empty, "HTTP listen address (the image sets 0.0.0.0)"
    )
    http_port: int = setting(8080, _port, "HTTP port")
    http_workers: int = setting(1, _positive_int, "HTTP worker processes")
    ops_port: int = setting(
        8081, _non_negative_int, "consume: port of /healthz, /readyz, /metrics (0: none)"
    )
    lag_poll_seconds: float = setting(
        15.0,
        _poll_seconds,
        "serve, http, consume with an ops port: read the group's lag from Kafka every N s (0: off)",
    )
    http_cache_threads: int = setting(16, _positive_int, "threads for shared-cache reads")
    admin_token: str = setting("", _text, "token for /admin (empty: disabled)", secret=True)
    log_format: str = setting("text", _choice("text", "json"), "log format")
    log_level: str = setting("INFO", _choice("DEBUG", "INFO", "WARNING", "ERROR"), "log level")

    def kafka_client_config(self) -> dict[str, str]:
        """librdkafka properties for every client: security first, then kafka_config."""
        config = {"security.protocol": self.kafka_security_protocol}
        if self.kafka_security_protocol.startswith("SASL"):
            config["sasl.mechanism"] = self.kafka_sasl_mechanism
            config["sasl.username"] = self.kafka_sasl_username
            config["sasl.password"] = self.kafka_sasl_password
        if self.kafka_ssl_ca_location:
            config["ssl.ca.location"] = self.kafka_ssl_ca_location
        config.update(properties(self.kafka_config))
        return config


@attrs.frozen
class SettingInfo:
    """One row of the settings table, for the CLI and the README."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    secret: bool

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def table() -> Iterator[SettingInfo]:
    for field in attrs.fields(Settings):
        meta = field.metadata
        yield SettingInfo(field.name, field.default, meta["parse"], meta["help"], meta["secret"])


def load(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, str | None] | None = None
) -> Settings:
    """Read every setting: override (CLI flag), else environment, else default. A secret
    may also come from a file (``secret_file_variable``): a flag still wins over the
    environment, and a value and a file given at the same level are an error."""
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    values: dict[str, Any] = {}
    flagged: set[str] = set()  # the settings given as flags
    for info in table():
        raw = overrides.get(info.name)
        source = info.flag
        if raw is None:
            raw, source = environ.get(info.env), info.env
        else:
            flagged.add(info.name)
        if raw is None:
            continue
        try:
            values[info.name] = info.parse(raw)
        except ValueError as exc:
            # A secret's parser may quote what it could not read: say only that it failed.
            detail = "not a valid value (not shown: it is a secret)" if info.secret else exc
            shown = "***" if info.secret else repr(raw)
            raise ConfigError(f"{source}={shown}: {detail}") from None
    for info in table():
        if info.secret:
            _read_secret_file(info, values, flagged, environ)
    return Settings(**values)


def secret_file_variable(info: SettingInfo) -> str:
    """The variable naming a file that holds this secret: the same rule for every secret
    (``ORDER_SERVICE_DATABASE_URL_FILE`` for ``ORDER_SERVICE_DATABASE_URL``; for the SASL
    password, also its ``--kafka-sasl-password-file`` flag)."""
    return info.env + "_FILE"


def _read_secret_file(
    info: SettingInfo, values: dict[str, Any], flagged: set[str], environ: Mapping[str, str]
) -> None:
    """The secret from its file, when one is named and no value of higher precedence is."""
    declared = f"{info.name}_file"  # a setting of its own, flag included (the SASL password)
    if declared in values:
        path, by_flag, named = values[declared], declared in flagged, f"--{declared}"
    else:
        path, by_flag, named = environ.get(secret_file_variable(info)), False, ""
    if not path:
        return
    named = (named if by_flag else "") or secret_file_variable(info)
    if info.name in values:
        if (info.name in flagged) == by_flag:
            source = info.flag if by_flag else info.env
            raise ConfigError(f"{source} and {named}: set one, not both")
        if info.name in flagged:
            return  # the flag wins over the environment's file
    try:
        # Surrounding whitespace is not the secret: editors and `kubectl create secret`
        # leave a final newline, and HTTP drops trailing spaces of a header anyway.
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ConfigError(f"{named}: cannot read {path}: {why}") from None
    try:
        values[info.name] = info.parse(text)
    except ValueError:
        raise ConfigError(f"{named}: the secret in {path} is not valid (not shown)") from None


def markdown_table() -> str:
    """The README's configuration table (``python -m entrypoints.settings`` prints it)."""
    lines = ["| variable | flag | default | meaning |", "|---|---|---|---|"]
    for info in table():
        default = "(empty)" if info.default in ("", {}) else f"`{info.default}`"
        lines.append(f"| `{info.env}` | `{info.flag}` | {default} | {info.help} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
