"""The cluster suite: the service on three Kafka brokers, PostgreSQL under Patroni (a primary
and a synchronous standby), PgBouncer, a Redis Cluster and two Memcached nodes, all started
by ``scripts/services.sh up cluster``. Run it on its own (``scripts/test-cluster.sh``): the
test kit's endpoints are set here, before anything reads them, to the cluster's.

Every test leaves the cluster whole: what it killed it starts again, and ``cluster_whole``
checks after each test (and brings back anything left down, failing the test that did it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.cluster import nodes

CLUSTER_ENV = {
    "ORDER_SERVICE_KAFKA_BOOTSTRAP": nodes.KAFKA,
    "ORDER_SERVICE_TEST_KAFKA_SASL": f"127.0.0.1:{nodes.PORTS.kafka_sasl(1)}",
    "ORDER_SERVICE_TEST_DATABASE_URL": nodes.DATABASE,
    "ORDER_SERVICE_REDIS_URL": nodes.REDIS,
    "ORDER_SERVICE_REDIS_CLUSTER": "true",
    "ORDER_SERVICE_MEMCACHED_SERVERS": nodes.MEMCACHED,
}
os.environ.update(CLUSTER_ENV)

from tests import support  # noqa: E402 - after the environment is set

# The fault suite's fixtures, and its hook that prints every test's FIGURES line at the end.
from tests.faults.conftest import figures, pytest_terminal_summary, spawn  # noqa: E402
from tests.integration.conftest import clean_database, database_url  # noqa: E402

__all__ = ["clean_database", "database_url", "figures", "pytest_terminal_summary", "spawn"]

if support.KAFKA != nodes.KAFKA:
    raise pytest.UsageError(
        "the cluster suite shares a pytest run with suites that read the single-node servers:"
        " run it on its own (scripts/test-cluster.sh)"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cluster: runs on the local cluster (services.sh up cluster)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cluster/" in str(item.path):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(autouse=True)
def cluster_whole() -> Iterator[None]:
    """Whatever a test did, the cluster is whole after it (and the test fails if it left a
    node down)."""
    down_before = nodes.stopped_nodes()
    if down_before:
        pytest.fail(
            f"the cluster is not whole: {down_before} down (scripts/services.sh up cluster)"
        )
    yield
    down = nodes.stopped_nodes()
    for group in nodes.GROUPS:
        nodes.start(group)
    assert not down, f"the test left {down} down"
