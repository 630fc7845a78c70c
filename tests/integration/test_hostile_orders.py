"""Generated hostile orders through the real Kafka, consumer and PostgreSQL.

Orders at the limits of every bound (longest strings of any Unicode, boundary integers,
edge dates, many items) travel in batches with ordinary orders and broken messages. Each
valid one must be stored and served byte for byte; each broken one dead-lettered with a
reason; and ingestion must never stall or retry.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from adapters.kafka.client.topics import ensure_topics
from adapters.kafka.dead_letters import format as dlq_format
from entrypoints.container import Container, build_container, http_dependencies
from entrypoints.http.app import create_app
from order_core import Order, encode_order
from order_tools.fake_orders import random_order
from tests.integration.kafka_helpers import publish, read_all, wait_for
from tests.strategies import ID_ALPHABET, extreme_orders
from tests.support import KAFKA, service_settings

pytestmark = pytest.mark.integration


@attrs.define
class Service:
    client: TestClient
    container: Container
    topic: str
    dead_letters: int = 0


@pytest.fixture(scope="module")
def service(database_url: str) -> Iterator[Service]:
    topic = f"hostile-{uuid.uuid4().hex[:10]}"
    container = build_container(
        service_settings(database_url, topic, batch_size=50, ops_port=0, retry_max=1)
    )

    ensure_topics(KAFKA, {topic: 4, f"{topic}.dlq": 1})
    with TestClient(create_app(http_dependencies(container, run_consumer=True))) as client:
        yield Service(client, container, topic)


def unique(order: Order, rng: random.Random) -> Order:
    """A fresh id of any allowed length, so that examples never answer for each other."""
    tail = "".join(rng.choices(ID_ALPHABET, k=rng.randint(0, 32)))
    return attrs.evolve(order, order_uid=(uuid.uuid4().hex + tail)[:64])


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(
    hostile=st.lists(extreme_orders(max_items=30), min_size=1, max_size=4),
    seed=st.integers(0, 2**32),
)
def test_hostile_orders_are_stored_and_served_byte_for_byte(
    service: Service, hostile: list[Order], seed: int
) -> None:
    rng = random.Random(seed)
    orders = [unique(o, rng) for o in hostile]
    ordinary = [orjson.dumps(random_order(rng, uuid.uuid4().hex)) for _ in range(3)]
    broken = [b"{", orjson.dumps({"order_uid": uuid.uuid4().hex})]
    messages = [encode_order(o) for o in orders] + ordinary + broken
    rng.shuffle(messages)
    publish(service.topic, [(None, m) for m in messages])

    repository = service.container.repository()
    wait_for(
        lambda: all(repository.get_document(o.order_uid) is not None for o in orders),
        timeout=60,
        what="the hostile orders in PostgreSQL",
    )
    for order in orders:
        expected = encode_order(order)
        assert repository.get_document(order.order_uid) == expected  # stored byte for byte
        served = service.client.get(f"/orders/{order.order_uid}")
        assert served.status_code == 200
        assert served.content == expected  # served byte for byte
    service.dead_letters += len(broken)
    dead = read_all(f"{service.topic}.dlq", expected=service.dead_letters, timeout=30)
    assert len(dead) == service.dead_letters
    assert all(dict(m.headers())[dlq_format.REASON] for m in dead)  # type: ignore[attr-defined]
    state = service.client.app.state.consumer_thread.state  # type: ignore[attr-defined]
    assert state.failure is None
    assert state.retries == 0  # never stalled: nothing was refused by the database
