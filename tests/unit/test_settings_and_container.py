"""Settings are typed, validated and documented; the container resolves every provider."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from entrypoints.cli import build_parser
from entrypoints.container import build_container
from entrypoints.settings import (
    ConfigError,
    SettingInfo,
    Settings,
    load,
    markdown_table,
    secret_file_variable,
    table,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_match_the_local_run() -> None:
    settings = load({})
    assert settings == Settings()
    assert settings.kafka_bootstrap == "localhost:9092"
    assert settings.http_port == 8080
    assert "localhost:5432" in settings.database_url


def test_flag_beats_environment_beats_default() -> None:
    assert load({"ORDER_SERVICE_HTTP_PORT": "9000"}).http_port == 9000
    assert load({"ORDER_SERVICE_HTTP_PORT": "9000"}, {"http_port": "9100"}).http_port == 9100


def test_settings_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        load({}).http_port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ORDER_SERVICE_HTTP_PORT": "0"}, "ORDER_SERVICE_HTTP_PORT='0': must be a port number"),
        ({"ORDER_SERVICE_CACHE_BACKEND": "mongo"}, "must be one of memory, memcached, redis"),
        ({"ORDER_SERVICE_BATCH_SIZE": "-1"}, "must be a positive integer"),
        ({"ORDER_SERVICE_NEGATIVE_TTL": "soon"}, "ORDER_SERVICE_NEGATIVE_TTL='soon'"),
        ({"ORDER_SERVICE_DATABASE_URL": " "}, "ORDER_SERVICE_DATABASE_URL=***"),
        ({"ORDER_SERVICE_KAFKA_CONFIG": "no-equals-sign"}, "ORDER_SERVICE_KAFKA_CONFIG=***"),
        ({"ORDER_SERVICE_KAFKA_SASL_PASSWORD_FILE": "/nonexistent/pw"}, "cannot read"),
    ],
)
def test_bad_values_are_one_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(env)
    assert message in str(info.value)


def test_secrets_are_not_echoed_in_errors() -> None:
    with pytest.raises(ConfigError) as info:
        load({"ORDER_SERVICE_DATABASE_URL": "   "})
    assert "   " not in str(info.value).split("=", 1)[1]


def test_kafka_security_and_extra_properties_reach_every_client(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    settings = load(
        {
            "ORDER_SERVICE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "ORDER_SERVICE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
            "ORDER_SERVICE_KAFKA_SASL_USERNAME": "orders",
            "ORDER_SERVICE_KAFKA_SASL_PASSWORD_FILE": str(secret),
            "ORDER_SERVICE_KAFKA_SSL_CA_LOCATION": "/etc/ca.pem",
            "ORDER_SERVICE_KAFKA_CONFIG": "client.rack=a; fetch.min.bytes = 1000",
        }
    )
    assert settings.kafka_client_config() == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "orders",
        "sasl.password": "s3cret",
        "ssl.ca.location": "/etc/ca.pem",
        "client.rack": "a",
        "fetch.min.bytes": "1000",
    }
    assert "s3cret" not in repr(table())


def test_the_readme_configuration_table_is_the_generated_one() -> None:
    readme = README.read_text()
    block = readme.split("<!-- settings:start", 1)[1].split("<!-- settings:end -->", 1)[0]
    assert block.split("\n", 1)[1].strip() == markdown_table()


def test_every_setting_is_documented_in_the_readme_and_has_a_flag() -> None:
    readme = README.read_text()
    args = build_parser().parse_args(["serve"])  # the parser builds with every flag
    assert args.handler is not None
    for info in table():
        assert f"`{info.env}`" in readme, info.env
        assert f"`{info.flag}`" in readme, info.flag


def test_container_resolves_every_provider_without_servers() -> None:
    """Catches wiring mistakes that mypy cannot see (the dependency-injector pitfall)."""
    container = build_container(load({}, {"repository": "memory", "cache_backend": "memory"}))
    lookup = container.lookup()
    assert lookup is container.lookup()  # singletons
    assert container.ingest() is container.ingest()
    assert container.cache_gateway().backend == "memory"
    assert container.cache_admin().warm_up(10) == 0
    assert container.dead_letters().topic == "orders.dlq"
    consumer = container.consumer()
    assert consumer.settings.topic == "orders"
    container.shutdown_resources()


@pytest.mark.parametrize("backend", ["memcached", "redis"])
def test_shared_caches_get_a_near_cache_unless_turned_off(backend: str) -> None:
    near = build_container(load({}, {"cache_backend": backend, "repository": "memory"}))
    assert type(near.cache()).__name__ == "NearCachedOrderCache"
    near.shutdown_resources()
    plain = build_container(
        load({}, {"cache_backend": backend, "repository": "memory", "near_cache_max_entries": "0"})
    )
    assert type(plain.cache()).__name__ != "NearCachedOrderCache"
    plain.shutdown_resources()


SECRETS = [info for info in table() if info.secret]
# A valid value of each secret, with a marker a test can look for.
MARKED = {
    "kafka_sasl_password": "marker-Zq81",
    "kafka_config": "sasl.oauthbearer.config=marker-Zq81",
    "database_url": "postgresql://orders:marker-Zq81@db.example:5432/orders",
    "db_migration_url": "postgresql://migrator:marker-Zq81@db.example:5432/orders",
    "redis_url": "redis://:marker-Zq81@cache.example:6379/0",
    "admin_token": "marker-Zq81",
}


def test_every_secret_has_a_marked_example() -> None:
    assert {info.name for info in SECRETS} == set(MARKED)


@pytest.mark.parametrize("info", SECRETS, ids=lambda info: info.name)
def test_every_secret_can_come_from_a_file_and_is_never_shown(
    info: SettingInfo, tmp_path: Path
) -> None:
    value = MARKED[info.name]
    held = tmp_path / "secret"
    held.write_text(value + "\n")  # as editors and `kubectl create secret` leave it
    variable = secret_file_variable(info)
    from_file = load({variable: str(held)})
    assert getattr(from_file, info.name) == getattr(load({info.env: value}), info.name)
    assert "marker-Zq81" not in repr(from_file)
    assert "marker-Zq81" not in str(from_file)

    with pytest.raises(ConfigError, match="set one, not both"):
        load({variable: str(held), info.env: value})
    with pytest.raises(ConfigError) as unreadable:
        load({variable: str(tmp_path / "missing")})
    assert variable in str(unreadable.value)
    held.write_bytes(b"\xff" + value.encode())
    with pytest.raises(ConfigError) as garbled:
        load({variable: str(held)})
    assert "marker-Zq81" not in str(garbled.value)


@pytest.mark.parametrize("leaky", ["sasl.password: hunter2", "=hunter2", "a=1;hunter2"])
def test_a_secret_that_does_not_parse_is_never_quoted(leaky: str, tmp_path: Path) -> None:
    held = tmp_path / "config"
    held.write_text(leaky)
    for environ in (
        {"ORDER_SERVICE_KAFKA_CONFIG": leaky},
        {"ORDER_SERVICE_KAFKA_CONFIG_FILE": str(held)},
    ):
        with pytest.raises(ConfigError) as info:
            load(environ)
        assert "hunter2" not in str(info.value)


def test_a_secret_file_is_read_without_its_surrounding_whitespace(tmp_path: Path) -> None:
    held = tmp_path / "token"
    held.write_text("  t0ken \n")
    assert load({"ORDER_SERVICE_ADMIN_TOKEN_FILE": str(held)}).admin_token == "t0ken"


def test_a_flag_wins_over_a_secret_file_in_the_environment(tmp_path: Path) -> None:
    held = tmp_path / "password"
    held.write_text("from-file")
    environ = {"ORDER_SERVICE_KAFKA_SASL_PASSWORD_FILE": str(held)}
    assert load(environ, {"kafka_sasl_password": "from-flag"}).kafka_sasl_password == "from-flag"
    # ... and a file given as a flag over a value in the environment.
    environ = {"ORDER_SERVICE_KAFKA_SASL_PASSWORD": "from-env"}
    overrides = {"kafka_sasl_password_file": str(held)}
    assert load(environ, overrides).kafka_sasl_password == "from-file"
    with pytest.raises(ConfigError, match="set one, not both"):
        load({}, {"kafka_sasl_password": "x", "kafka_sasl_password_file": str(held)})
