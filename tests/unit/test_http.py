"""The HTTP API on the real app and container, with the in-memory repository and cache:
no servers needed. Every answer has a defined status and the one JSON error shape."""

from __future__ import annotations

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from entrypoints.container import Container, HttpDependencies, build_container, http_dependencies
from entrypoints.http.app import create_app
from entrypoints.settings import load
from order_core import Order, encode_order
from tests.conftest import SAMPLE_ID
from tests.fakes import FakeRepository
from tests.strategies import orders
from tests.unit.conftest import ADMIN_HEADERS, IN_MEMORY


def error_code(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    return str(body["error"]["code"])


def test_a_stored_order_is_served_with_an_etag_then_304(
    app: tuple[TestClient, Container], sample_bytes: bytes
) -> None:
    client, container = app
    container.ingest()([sample_bytes])
    found = client.get("/order", params={"id": SAMPLE_ID})
    assert found.status_code == 200
    assert found.json()["order_uid"] == SAMPLE_ID
    assert found.headers["content-type"] == "application/json"
    etag = found.headers["etag"]
    assert client.get(f"/orders/{SAMPLE_ID}").content == found.content
    again = client.get("/order", params={"id": SAMPLE_ID}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag
    # It holds personal data: a browser may keep it, no shared cache may.
    for answer in (found, again):
        directives = {d.strip() for d in answer.headers["cache-control"].split(",")}
        assert "private" in directives
        assert "public" not in directives


def test_missing_and_malformed_ids_are_400(app: tuple[TestClient, Container]) -> None:
    client, _ = app
    missing = client.get("/order")
    assert (missing.status_code, error_code(missing)) == (400, "missing_id")
    bad = client.get("/order", params={"id": "a b"})
    assert (bad.status_code, error_code(bad)) == (400, "invalid_id")


def test_an_unknown_order_is_404(app: tuple[TestClient, Container]) -> None:
    client, _ = app
    answer = client.get("/order", params={"id": "nosuchorder"})
    assert (answer.status_code, error_code(answer)) == (404, "not_found")


def test_a_miss_with_the_repository_down_is_503_and_hits_still_200(
    app: tuple[TestClient, Container], sample_bytes: bytes
) -> None:
    client, container = app
    container.ingest()([sample_bytes])  # cached
    repository = container.repository()
    assert isinstance(repository, FakeRepository)
    repository.available = False
    down = client.get("/order", params={"id": "notcached"})
    assert (down.status_code, error_code(down)) == (503, "unavailable")
    assert down.headers["retry-after"]
    assert client.get("/order", params={"id": SAMPLE_ID}).status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["repository"].startswith("unavailable")


def test_admin_needs_the_token(app: tuple[TestClient, Container]) -> None:
    client, _ = app
    assert client.post("/admin/cache/reset").status_code == 401
    ok = client.post("/admin/cache/reset", headers=ADMIN_HEADERS)
    assert ok.json() == {"reset": True}
    bad_limit = client.post("/admin/cache/warm?limit=-1", headers=ADMIN_HEADERS)
    assert (bad_limit.status_code, error_code(bad_limit)) == (400, "bad_request")


def test_health_is_ok_and_readiness_lists_its_checks(app: tuple[TestClient, Container]) -> None:
    client, _ = app
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"repository": "ok", "cache": "ok"}}


@given(st.text(max_size=80))
@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_id_gets_a_defined_answer_never_a_500(
    app: tuple[TestClient, Container], order_uid: str
) -> None:
    client, _ = app
    answer = client.get("/order", params={"id": order_uid})
    assert answer.status_code in (400, 404)
    assert error_code(answer) in ("invalid_id", "not_found")


def test_the_openapi_document_is_valid_and_describes_every_route(
    app: tuple[TestClient, Container],
) -> None:
    client, _ = app
    spec = client.get("/openapi.json").json()
    validate(spec)
    routes = {
        getattr(r, "path", "")
        for r in client.app.routes  # type: ignore[attr-defined]
    } - {"/static"}
    assert routes == set(spec["paths"])


@given(orders())
@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_served_orders_match_the_documented_schema(
    app: tuple[TestClient, Container], order: Order
) -> None:
    client, container = app
    container.ingest()([encode_order(order)])
    served = client.get(f"/orders/{order.order_uid}")
    spec = client.get("/openapi.json").json()
    schema = {"$ref": "#/components/schemas/Order", "components": spec["components"]}
    jsonschema.validate(served.json(), schema)


@pytest.mark.parametrize("path", ["/order?id=any-id", "/orders/any-id"])
def test_an_unexpected_error_on_the_fast_path_is_one_500_in_the_error_shape(
    app: tuple[TestClient, Container], path: str
) -> None:
    """Answered as the routed app answers what it did not expect, and the lookup is not
    run a second time through the router."""
    client, _ = app
    calls: list[str] = []

    async def broken(order_uid: str, traceparent: bytes = b"") -> bytes | None:
        calls.append(order_uid)
        raise RuntimeError("a bug")

    lookups = client.app.lookups  # type: ignore[attr-defined]
    lookups.find = broken
    answer = client.get(path)
    assert answer.status_code == 500
    assert error_code(answer) == "internal"
    assert answer.headers["cache-control"] == "no-store"
    assert calls == ["any-id"]


def test_given_a_function_the_app_builds_its_dependencies_when_it_starts() -> None:
    """Pools and clients open with the app's lifespan, not when the app object is made
    (a server that never starts, its port taken, opens nothing)."""
    container = build_container(load({}, IN_MEMORY))
    built: list[object] = []

    def dependencies() -> HttpDependencies:
        built.append(http_dependencies(container))
        return built[-1]  # type: ignore[return-value]

    app = create_app(dependencies)
    assert built == []
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert len(built) == 1
