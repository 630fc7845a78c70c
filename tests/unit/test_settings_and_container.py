"""Settings are validated and documented; the container resolves every provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.cli import build_parser
from entrypoints.container import build_container
from entrypoints.settings import SETTINGS, ConfigError, load

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_match_the_local_run() -> None:
    values = load({})
    assert values["kafka_bootstrap"] == "localhost:9092"
    assert values["kafka_topic"] == "orders"
    assert values["http_port"] == 8080
    assert values["memcached_servers"] == "localhost:11211"
    assert "localhost:5432" in values["database_url"]


def test_flag_beats_environment_beats_default() -> None:
    assert load({"ORDER_SERVICE_HTTP_PORT": "9000"})["http_port"] == 9000
    assert load({"ORDER_SERVICE_HTTP_PORT": "9000"}, {"http_port": "9100"})["http_port"] == 9100


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ORDER_SERVICE_HTTP_PORT": "0"}, "ORDER_SERVICE_HTTP_PORT='0': must be a port number"),
        ({"ORDER_SERVICE_CACHE_BACKEND": "mongo"}, "must be one of memory, memcached, redis"),
        ({"ORDER_SERVICE_BATCH_SIZE": "-1"}, "must be a positive integer"),
        ({"ORDER_SERVICE_NEGATIVE_TTL": "soon"}, "ORDER_SERVICE_NEGATIVE_TTL='soon'"),
        ({"ORDER_SERVICE_DATABASE_URL": " "}, "ORDER_SERVICE_DATABASE_URL=***"),
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


def test_every_setting_is_documented_in_the_readme_and_has_a_flag() -> None:
    readme = README.read_text()
    help_text = build_parser().parse_args(["serve"])  # the parser builds with every flag
    assert help_text.command == "serve"
    for setting in SETTINGS:
        assert f"`{setting.env}`" in readme, setting.env
        assert f"`{setting.flag}`" in readme, setting.flag


def test_container_resolves_every_provider_without_servers() -> None:
    """Catches wiring mistakes that mypy cannot see (the dependency-injector pitfall)."""
    container = build_container(load({}, {"repository": "memory", "cache_backend": "memory"}))
    lookup = container.lookup()
    assert lookup is container.lookup()  # singletons
    assert container.save_then_cache() is container.save_then_cache()
    assert container.cache_writer().cache is container.cache()
    assert container.cache().backend == "memory"
    assert container.cache_admin().warm_up(10) == 0
    assert container.consumer_settings().topic == "orders"
    container.shutdown_resources()
