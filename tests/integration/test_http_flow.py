"""The whole flow in one process: Kafka -> consumer -> PostgreSQL -> cache -> HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import psycopg
import pytest
from starlette.testclient import TestClient

from entrypoints.container import Container, build_container, http_dependencies
from entrypoints.http.app import create_app
from order_tools.fake_orders import messages
from tests.conftest import SAMPLE_ID
from tests.integration.kafka_helpers import publish, wait_for
from tests.support import service_settings

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "memcached", "redis"])
def service(
    request: pytest.FixtureRequest, clean_database: str, topic: str
) -> Iterator[tuple[TestClient, Container]]:
    container = build_container(
        service_settings(clean_database, topic, cache_backend=request.param)
    )
    container.cache().clear()
    with TestClient(create_app(http_dependencies(container, run_consumer=True))) as client:
        yield client, container


def test_published_orders_are_served_and_then_served_from_the_cache(
    service: tuple[TestClient, Container], clean_database: str, topic: str, sample_bytes: bytes
) -> None:
    client, container = service
    others = [(k, v) for k, v, _ in messages(40, seed=7)]
    publish(
        topic, [(SAMPLE_ID.encode(), sample_bytes), *others, (SAMPLE_ID.encode(), sample_bytes)]
    )
    repository = container.repository()
    wait_for(lambda: repository.count() == 41, what="41 orders in PostgreSQL")

    answer = client.get("/order", params={"id": SAMPLE_ID})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == orjson.loads(sample_bytes)
    assert "ETag" in answer.headers

    # Prove the next answer comes from the cache: the row is gone, the order is still served.
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.execute("DELETE FROM orders WHERE order_uid = %s", (SAMPLE_ID,))
    again = client.get(f"/orders/{SAMPLE_ID}")
    assert again.status_code == 200
    assert again.json() == orjson.loads(sample_bytes)

    # After a reset the cache no longer has it, and PostgreSQL no longer has it either.
    container.cache_admin().reset()
    assert client.get("/order", params={"id": SAMPLE_ID}).status_code == 404


def test_a_reset_loses_nothing(service: tuple[TestClient, Container], topic: str) -> None:
    client, container = service
    batch = [(k, v) for k, v, _ in messages(30, seed=11)]
    publish(topic, batch)
    repository = container.repository()
    wait_for(lambda: repository.count() == 30, what="30 orders saved")
    container.cache_admin().reset()
    for key, value in batch:
        assert key is not None
        answer = client.get("/order", params={"id": key.decode()})
        assert answer.status_code == 200
        assert answer.json() == orjson.loads(value)
    assert container.cache_admin().warm_up(limit=10) == 10


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/order", 400, "missing_id"),
        ("/order?id=", 400, "invalid_id"),
        ("/order?id=a%20b", 400, "invalid_id"),
        ("/order?id=" + "x" * 65, 400, "invalid_id"),
        ("/order?id=%0Anewline", 400, "invalid_id"),
        ("/order?id=unknown-id", 404, "not_found"),
        ("/orders/unknown-id", 404, "not_found"),
        ("/no-such-page", 404, "not_found"),
    ],
)
def test_bad_requests_get_json_errors(
    service: tuple[TestClient, Container], path: str, status: int, code: str
) -> None:
    client, _ = service
    answer = client.get(path)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["message"]


def test_wrong_method_is_a_json_405(service: tuple[TestClient, Container]) -> None:
    client, _ = service
    answer = client.post("/order?id=x")
    assert answer.status_code == 405
    assert answer.json()["error"]["code"] == "method_not_allowed"
