"""Fixtures on the real local servers (started by scripts/services.sh up).

Each test session gets a database of its own (created, migrated, dropped) and each test
gets Kafka topics and a consumer group of its own, so tests never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from adapters.kafka.topics import ensure_topics
from adapters.postgres.migrations import migrate
from adapters.postgres.repository import PostgresOrderRepository
from entrypoints.settings import Settings, load

ADMIN_URL = os.environ.get(
    "ORDER_SERVICE_TEST_DATABASE_URL", "postgresql://orders:orders@127.0.0.1:5432/orders"
)
KAFKA = os.environ.get("ORDER_SERVICE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
MEMCACHED = os.environ.get("ORDER_SERVICE_MEMCACHED_SERVERS", "127.0.0.1:11211")
REDIS = os.environ.get("ORDER_SERVICE_REDIS_URL", "redis://127.0.0.1:6379/0")


def _with_database(url: str, name: str) -> str:
    return psycopg.conninfo.make_conninfo(url, dbname=name)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh, migrated database for this test session."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(ADMIN_URL, name)
    migrate(url)
    yield url
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def clean_database(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE orders CASCADE")
    return database_url


@pytest.fixture
def repository(clean_database: str) -> Iterator[PostgresOrderRepository]:
    repository = PostgresOrderRepository.open(clean_database, pool_size=4)
    repository.ping()
    yield repository
    repository.close()


@pytest.fixture
def topic() -> str:
    """A new orders topic (4 partitions) and its dead-letter topic, unique to the test."""
    name = f"orders-test-{uuid.uuid4().hex[:10]}"
    ensure_topics(KAFKA, {name: 4, f"{name}.dlq": 1})
    return name


def resource_settings(database_url: str, topic: str) -> dict[str, object]:
    """The settings that point a service at this test's servers, topic and database (no
    warm-up: a test's database starts empty)."""
    return {
        "kafka_bootstrap": KAFKA,
        "kafka_topic": topic,
        "kafka_dlq_topic": f"{topic}.dlq",
        "kafka_group": f"group-{topic}",
        "database_url": database_url,
        "memcached_servers": MEMCACHED,
        "redis_url": REDIS,
        "warm_up_orders": 0,
    }


def service_settings(database_url: str, topic: str, **changes: Any) -> Settings:
    """Settings as the service would load them, pointed at this test's resources."""
    overrides = {**resource_settings(database_url, topic), **changes}
    return load({}, {k: str(v) for k, v in overrides.items()})
