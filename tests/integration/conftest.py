"""Fixtures on the real local servers (started by scripts/services.sh up).

Each test session gets a database of its own (created, migrated, dropped) and each test
gets Kafka topics and a consumer group of its own, so tests never see each other's data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from adapters.kafka.client.topics import ensure_topics
from adapters.postgres.migrations import migrate
from adapters.postgres.repository import PostgresOrderRepository
from tests.support import ADMIN_URL, KAFKA


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
        conn.execute("TRUNCATE orders, deliveries, payments, items")  # no foreign keys
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
