"""The list endpoints on the real app and container with in-memory adapters: a customer's
orders (GET /orders) and the admin list of dead letters (an in-memory archive stands in
for Kafka)."""

from __future__ import annotations

from typing import Any

import attrs
import jsonschema
import msgspec
import pytest
from dependency_injector import providers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from adapters.kafka.dead_letters import format as dlq_format
from adapters.kafka.dead_letters.format import Source, dead_letter, stub
from entrypoints.container import Container, build_container, http_dependencies
from entrypoints.http.app import create_app
from entrypoints.http.bodies import CustomerPage
from entrypoints.settings import load
from order_core import encode_order
from tests.contracts.repository import BASE
from tests.fakes import FakeRepository
from tests.unit.conftest import ADMIN_HEADERS
from tests.unit.dead_letter_archive import MemoryArchive, letter

HOSTILE_REASON = "order_uid: got '<img src=x onerror=\"window.__pwned=1\">'"


def save(container: Container, count: int, customer: str = "ann") -> list[str]:
    orders = [
        attrs.evolve(BASE, order_uid=f"{customer}-{i}", customer_id=customer) for i in range(count)
    ]
    container.ingest()([encode_order(o) for o in orders])
    return [o.order_uid for o in orders]


def error_code(answer: Any) -> str:
    body = answer.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    return str(body["error"]["code"])


def test_a_customers_orders_come_page_by_page_newest_first(
    app: tuple[TestClient, Container],
) -> None:
    client, container = app
    ids = save(container, 5)
    save(container, 2, customer="bob")
    seen, after = [], None
    while True:
        params: dict[str, str | int] = {"customer_id": "ann", "limit": 2}
        if after:
            params["after"] = after
        answer = client.get("/orders", params=params)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        body = answer.json()
        assert body["customer_id"] == "ann"
        seen += [order["order_uid"] for order in body["orders"]]
        after = body["next"]
        if after is None:
            break
    assert seen == ids[::-1]


def test_the_order_lookups_still_answer_beside_the_list(
    app: tuple[TestClient, Container],
) -> None:
    client, container = app
    (order_uid,) = save(container, 1)
    assert client.get(f"/orders/{order_uid}").json()["order_uid"] == order_uid
    assert client.get("/order", params={"id": order_uid}).json()["order_uid"] == order_uid
    assert (
        client.get("/orders", params={"customer_id": "ann"}).json()["orders"][0]["order_uid"]
        == order_uid
    )


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "missing_customer_id"),
        ({"customer_id": ""}, "invalid_customer_id"),
        ({"customer_id": "a\x00"}, "invalid_customer_id"),
        ({"customer_id": "x" * 256}, "invalid_customer_id"),
        ({"customer_id": "ann", "limit": "0"}, "invalid_limit"),
        ({"customer_id": "ann", "limit": "101"}, "invalid_limit"),
        ({"customer_id": "ann", "limit": "ten"}, "invalid_limit"),
        ({"customer_id": "ann", "limit": " 5"}, "invalid_limit"),
        ({"customer_id": "ann", "limit": "9" * 5000}, "invalid_limit"),
        ({"customer_id": "ann", "after": "bogus"}, "invalid_cursor"),
    ],
)
def test_bad_parameters_are_400_with_the_error_shape(
    app: tuple[TestClient, Container], params: dict[str, str], code: str
) -> None:
    client, _ = app
    answer = client.get("/orders", params=params)
    assert (answer.status_code, error_code(answer)) == (400, code)


@given(customer_id=st.text(max_size=300), limit=st.text(max_size=8), after=st.text(max_size=20))
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_parameters_get_a_defined_answer_never_a_500(
    app: tuple[TestClient, Container], customer_id: str, limit: str, after: str
) -> None:
    client, _ = app
    answer = client.get(
        "/orders", params={"customer_id": customer_id, "limit": limit, "after": after}
    )
    assert answer.status_code in (200, 400)


def test_the_list_is_503_while_the_store_is_down(app: tuple[TestClient, Container]) -> None:
    client, container = app
    repository = container.repository()
    assert isinstance(repository, FakeRepository)
    repository.available = False
    answer = client.get("/orders", params={"customer_id": "ann"})
    assert (answer.status_code, error_code(answer)) == (503, "unavailable")
    assert answer.headers["retry-after"]


def test_a_page_matches_the_documented_schema(app: tuple[TestClient, Container]) -> None:
    client, container = app
    save(container, 3)
    spec = client.get("/openapi.json").json()
    schema = spec["paths"]["/orders"]["get"]["responses"]["200"]["content"]["application/json"]
    answer = client.get("/orders", params={"customer_id": "ann", "limit": 2})
    jsonschema.validate(answer.json(), {**schema["schema"], "components": spec["components"]})
    # The spliced body is the struct the document is generated from, field for field.
    page = msgspec.json.decode(answer.content, type=CustomerPage)
    assert (page.customer_id, len(page.orders)) == ("ann", 2)
    assert page.next is not None
    # A person's orders: no shared cache may keep them, and new ones may arrive.
    assert {d.strip() for d in answer.headers["cache-control"].split(",")} == {
        "private",
        "no-cache",
    }


def records() -> list[Any]:
    source = Source("orders", 2, 41, 1_700_000_000_000, b"k", b"{}", (("trace", b"1"),))
    replayed = attrs.evolve(source, offset=42, headers=((dlq_format.REPLAY_OF, b"0"),))
    return [dead_letter(source, "not JSON"), stub(replayed, HOSTILE_REASON)]


def one_partition(kept: list[Any], down: bool = False) -> MemoryArchive:
    """A one-partition dead-letter topic holding these records, or a Kafka that is down."""
    return MemoryArchive(
        [letter(0, i, 1_700_000_000_000 + i, r) for i, r in enumerate(kept)], down=down
    )


def validate(client: TestClient, body: Any) -> None:
    spec = client.get("/openapi.json").json()
    schema = spec["paths"]["/admin/dead-letters"]["get"]["responses"]["200"]["content"]
    jsonschema.validate(
        body, {**schema["application/json"]["schema"], "components": spec["components"]}
    )


def test_dead_letters_are_listed_newest_first_behind_the_token(
    app: tuple[TestClient, Container],
) -> None:
    client, container = app
    container.dead_letter_archive.override(providers.Object(one_partition(records())))
    assert client.get("/admin/dead-letters").status_code == 401
    assert (
        client.get("/admin/dead-letters", headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )
    answer = client.get("/admin/dead-letters", params={"limit": 10}, headers=ADMIN_HEADERS)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert (body["topic"], body["first_offset"], body["next_offset"]) == ("orders.dlq", 0, 2)
    assert body["partitions"] == [{"partition": 0, "first_offset": 0, "next_offset": 2}]
    newest, oldest = body["dead_letters"]
    assert newest["reason"] == HOSTILE_REASON  # data, as it is: the page shows it as text
    assert (newest["partition"], newest["offset"]) == (0, 1)
    assert (newest["stub"], newest["replay_of"], newest["original_bytes"]) == (True, 0, 2)
    assert newest["replay_of_partition"] == 0
    assert newest["source"] == {
        "topic": "orders",
        "partition": 2,
        "offset": 42,
        "written_at": "2023-11-14T22:13:20.000+00:00",
    }
    assert (oldest["offset"], oldest["reason"], oldest["stub"]) == (0, "not JSON", False)
    assert (oldest["replay_of"], oldest["replay_of_partition"]) == (None, None)
    validate(client, body)


def test_dead_letters_of_every_partition_are_merged_newest_first(
    app: tuple[TestClient, Container],
) -> None:
    client, container = app
    source = Source("orders", 1, 7, None, b"k", b"{}")
    replayed = attrs.evolve(source, headers=((dlq_format.REPLAY_OF, b"2:0"),))
    times = {0: [10, 40], 1: [20], 2: [10, 30, 50]}  # a tie at 10: partition 0 first
    kept = [
        letter(p, o, 1_700_000_000_000 + ms, dead_letter(replayed if p == 1 else source, "x"))
        for p, ms_list in times.items()
        for o, ms in enumerate(ms_list)
    ]
    archive = MemoryArchive(kept, partitions=4)  # partition 3 holds none
    container.dead_letter_archive.override(providers.Object(archive))
    answer = client.get("/admin/dead-letters", params={"limit": 4}, headers=ADMIN_HEADERS)
    assert answer.status_code == 200
    body = answer.json()
    listed = [(d["partition"], d["offset"]) for d in body["dead_letters"]]
    assert listed == [(2, 2), (0, 1), (2, 1), (1, 0)]
    assert [(d["replay_of_partition"], d["replay_of"]) for d in body["dead_letters"]] == [
        (None, None),
        (None, None),
        (None, None),
        (2, 0),
    ]
    assert body["partitions"] == [
        {"partition": 0, "first_offset": 0, "next_offset": 2},
        {"partition": 1, "first_offset": 0, "next_offset": 1},
        {"partition": 2, "first_offset": 0, "next_offset": 3},
        {"partition": 3, "first_offset": 0, "next_offset": 0},
    ]
    assert (body["first_offset"], body["next_offset"]) == (0, 2)  # partition 0's
    assert archive.closed
    # No more than the limit is read from any partition.
    assert all(end - start <= 4 for _, start, end in archive.reads)
    validate(client, body)


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "x", ""])
def test_a_bad_dead_letter_limit_is_400(app: tuple[TestClient, Container], limit: str) -> None:
    client, container = app
    container.dead_letter_archive.override(providers.Object(one_partition(records())))
    answer = client.get("/admin/dead-letters", params={"limit": limit}, headers=ADMIN_HEADERS)
    assert (answer.status_code, error_code(answer)) == (400, "bad_request")


def test_dead_letters_are_503_while_kafka_is_down(app: tuple[TestClient, Container]) -> None:
    client, container = app
    container.dead_letter_archive.override(providers.Object(one_partition([], down=True)))
    answer = client.get("/admin/dead-letters", headers=ADMIN_HEADERS)
    assert (answer.status_code, error_code(answer)) == (503, "unavailable")


def test_dead_letters_are_404_without_an_admin_token() -> None:
    container = build_container(load({}, {"repository": "memory", "lag_poll_seconds": "0"}))
    with TestClient(create_app(http_dependencies(container))) as client:
        answer = client.get("/admin/dead-letters", headers=ADMIN_HEADERS)
    assert (answer.status_code, error_code(answer)) == (404, "not_found")
