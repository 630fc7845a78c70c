"""Operations endpoints on the real stack: OpenAPI, metrics, readiness, admin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from entrypoints.container import Container, build_container, http_dependencies
from entrypoints.http.app import create_app
from order_tools.fake_orders import messages
from tests.conftest import SAMPLE_ID
from tests.integration.kafka_helpers import publish, wait_for
from tests.support import service_settings

pytestmark = pytest.mark.integration
TOKEN = "s3cret-token"


@pytest.fixture
def service(clean_database: str, topic: str) -> Iterator[tuple[TestClient, Container]]:
    container = build_container(
        service_settings(clean_database, topic, admin_token=TOKEN, cache_backend="redis")
    )
    with TestClient(create_app(http_dependencies(container, run_consumer=True))) as client:
        yield client, container


def test_openapi_document_is_valid_openapi_3(service: tuple[TestClient, Container]) -> None:
    client, _ = service
    spec = client.get("/openapi.json").json()
    validate(spec)
    assert {"/order", "/orders/{order_uid}"} <= set(spec["paths"])
    assert "Error" in spec["components"]["schemas"]


def test_metrics_parse_and_count_what_happened(
    service: tuple[TestClient, Container], topic: str, sample_bytes: bytes
) -> None:
    client, container = service
    publish(topic, [(SAMPLE_ID.encode(), sample_bytes), (None, b"broken")])
    wait_for(lambda: container.repository().count() == 1, what="the sample saved")
    assert client.get(f"/order?id={SAMPLE_ID}").status_code == 200
    assert client.get("/order?id=unknown").status_code == 404
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    for name in (
        "order_service_cache_lookups",
        "order_service_orders",
        "order_service_messages_consumed",
        "order_service_dead_lettered",
        "order_service_batch_size",
        "order_service_batch_save_seconds",
        "order_service_http_request_seconds",
    ):
        assert name in families, name
    routes = {s.labels.get("route") for s in families["order_service_http_request_seconds"].samples}
    assert "/order" in routes
    assert not any(SAMPLE_ID in str(r) for r in routes)  # ids are not labels

    def lag_of_topic() -> list[float]:
        text = client.get("/metrics").text
        return [
            s.value
            for f in text_string_to_metric_families(text)
            if f.name == "order_service_consumer_lag"
            for s in f.samples
            if s.labels.get("topic") == topic
        ]

    # librdkafka reports statistics every 5 s: the lag of each partition, all consumed.
    wait_for(lambda: len(lag_of_topic()) == 4, timeout=20, what="consumer lag per partition")
    assert lag_of_topic() == [0.0] * 4
    hits = [
        s
        for s in families["order_service_cache_lookups"].samples
        if s.labels == {"backend": "redis", "result": "hit"} and s.name.endswith("_total")
    ]
    assert hits
    assert hits[0].value >= 1


def test_health_and_readiness(service: tuple[TestClient, Container]) -> None:
    client, _ = service
    assert client.get("/healthz").json() == {"status": "ok"}
    # Ready once the consumer runs (until then /readyz says it has not started yet).
    wait_for(lambda: client.get("/readyz").status_code == 200, what="ready")
    ready = client.get("/readyz")
    assert ready.json()["checks"] == {"repository": "ok", "cache": "ok", "consumer": "ok"}


def test_admin_endpoints_need_the_token(
    service: tuple[TestClient, Container], topic: str, sample_bytes: bytes
) -> None:
    client, container = service
    publish(topic, [(SAMPLE_ID.encode(), sample_bytes)])
    wait_for(lambda: container.repository().count() == 1, what="the sample saved")
    assert client.post("/admin/cache/reset").status_code == 401
    wrong = client.post("/admin/cache/reset", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "unauthorized"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/admin/cache/reset", headers=auth).json() == {"reset": True}
    assert container.cache().get(SAMPLE_ID) is None
    assert client.post("/admin/cache/warm?limit=10", headers=auth).json() == {"loaded": 1}
    assert container.cache().get(SAMPLE_ID) is not None
    assert client.post("/admin/cache/warm?limit=ten", headers=auth).status_code == 400


def test_start_warms_the_cache_with_the_most_recent_orders(clean_database: str, topic: str) -> None:
    batch = [(k, v) for k, v, _ in messages(25, seed=3)]
    first = build_container(service_settings(clean_database, topic))
    with TestClient(create_app(http_dependencies(first, run_consumer=True))):
        publish(topic, batch)
        wait_for(lambda: first.repository().count() == 25, what="25 orders saved")
    container = build_container(
        service_settings(clean_database, topic, warm_up_orders=10, cache_backend="memory")
    )
    with TestClient(create_app(http_dependencies(container))):
        cache = container.cache()
        cached = [k for k, _ in batch if k is not None and cache.get(k.decode()) is not None]
    assert len(cached) == 10


def test_http_serves_while_kafka_is_unreachable(clean_database: str, topic: str) -> None:
    container = build_container(
        service_settings(clean_database, topic, kafka_bootstrap="127.0.0.1:1")
    )
    with TestClient(create_app(http_dependencies(container, run_consumer=True))) as client:
        assert client.get("/healthz").status_code == 200
        answer = client.get("/order?id=not-there")
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"
