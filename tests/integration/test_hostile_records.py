"""Every part of a Kafka record is input: generated records through the real broker.

The records are produced with librdkafka's C API (``raw_producer``), so they carry what the
Python client cannot send: header names that are not UTF-8 or hold NUL, null header
values, null keys and values, empty and large keys, timestamps from the epoch to the
broker's limit. One consumer runs through every example; each record must end as a stored
order (its value is a valid order) or as a dead letter naming its coordinates, and the
consumer must never stop.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import attrs
import pytest
from confluent_kafka import Consumer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.kafka.dead_letters import format as dlq_format
from adapters.kafka.ingest.consumer import OrderConsumer
from adapters.postgres.repository import PostgresOrderRepository
from order_core import Order, encode_order
from tests.integration.kafka_helpers import running, wait_for
from tests.integration.raw_producer import RawProducer, RawRecord
from tests.integration.test_kafka_consumer import make_consumer
from tests.strategies import orders
from tests.support import KAFKA

pytestmark = pytest.mark.integration

# Kafka 4 refuses a timestamp more than an hour ahead (log.message.timestamp.after.max.ms);
# librdkafka reads 0 as "now". Larger and negative ones are held by the unit tests.
HOUR_MS = 3_600_000
LATEST_TIMESTAMP_MS = int(time.time() * 1000) + HOUR_MS // 2  # fixed: the strategy must not move

invalid_utf8 = st.sampled_from([b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe9t\xe9", b"\x80"])
header_names = st.one_of(
    st.binary(max_size=24),
    st.builds(
        lambda a, bad, b: a + bad + b, st.binary(max_size=8), invalid_utf8, st.binary(max_size=8)
    ),
    st.text(max_size=16).map(str.encode),
    st.just(b"traceparent"),
    st.just(dlq_format.REPLAY_OF.encode()),
)
headers = st.lists(
    st.tuples(header_names, st.one_of(st.none(), st.binary(max_size=64))), max_size=5
).map(tuple)
keys = st.one_of(
    st.none(), st.just(b""), st.binary(max_size=32), st.binary(min_size=20_000, max_size=60_000)
)
junk = st.one_of(
    st.none(),
    st.just(b""),
    st.binary(max_size=200),
    st.sampled_from([b"{}", b"[]", b"null", b'{"order_uid": 1}', b"\xff" * 10]),
)


values: st.SearchStrategy[Order | bytes | None] = st.one_of(orders(), junk)


@st.composite
def records(draw: st.DrawFn) -> tuple[RawRecord, Order | None]:
    """A record, and the order its value is to hold (its order_uid given when it is sent,
    unique to the run: every example's orders are new)."""
    value = draw(values)
    record = RawRecord(
        key=draw(keys),
        value=None if isinstance(value, Order) else value,
        headers=draw(headers),
        timestamp_ms=draw(st.one_of(st.none(), st.integers(1, LATEST_TIMESTAMP_MS))),
    )
    return record, value if isinstance(value, Order) else None


def _with_fresh_orders(drawn: list[tuple[RawRecord, Order | None]]) -> list[RawRecord]:
    return [
        record
        if order is None
        else attrs.evolve(
            record, value=encode_order(attrs.evolve(order, order_uid=f"hr-{uuid.uuid4().hex}"))
        )
        for record, order in drawn
    ]


class DeadLetterWatch:
    """Every dead letter of the topic so far, by its source coordinates."""

    def __init__(self, topic: str) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": KAFKA,
                "group.id": f"watch-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self._consumer.subscribe([f"{topic}.dlq"])
        self.seen: dict[tuple[int, int], dict[str, bytes]] = {}

    def poll(self) -> None:
        for message in self._consumer.consume(num_messages=500, timeout=0.2):
            if message.error() is None:
                pairs: list[tuple[str, bytes | None]] = message.headers() or []  # type: ignore[assignment]
                found = {k: v or b"" for k, v in pairs}
                key = (int(found[dlq_format.PARTITION]), int(found[dlq_format.OFFSET]))
                self.seen[key] = found

    def close(self) -> None:
        self._consumer.close()


@pytest.fixture
def live(
    topic: str, repository: PostgresOrderRepository
) -> Iterator[tuple[str, PostgresOrderRepository, OrderConsumer, DeadLetterWatch, RawProducer]]:
    consumer = make_consumer(topic, repository, batch_size=50)
    watch = DeadLetterWatch(topic)
    producer = RawProducer(KAFKA)
    try:
        with running(consumer):
            yield topic, repository, consumer, watch, producer
    finally:
        producer.close()
        watch.close()


@given(drawn=st.lists(records(), min_size=1, max_size=12))
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_any_record_is_an_order_or_a_dead_letter_and_the_consumer_goes_on(
    live: tuple[str, PostgresOrderRepository, OrderConsumer, DeadLetterWatch, RawProducer],
    drawn: list[tuple[RawRecord, Order | None]],
) -> None:
    topic, repository, consumer, watch, producer = live
    batch = _with_fresh_orders(drawn)
    deliveries = producer.send(topic, batch)
    assert all(d.ok for d in deliveries), deliveries  # every record is within the broker's rules
    valid = {
        (d.partition, d.offset): r.value
        for r, d in zip(batch, deliveries, strict=True)
        if r.value is not None and r.value.startswith(b'{"order_uid":"hr-')
    }
    invalid = {(d.partition, d.offset) for d in deliveries} - valid.keys()

    def settled() -> bool:
        watch.poll()
        return invalid <= watch.seen.keys() and all(
            repository.get_document(_uid(doc)) == doc for doc in valid.values()
        )

    wait_for(settled, timeout=60, what="every record stored or dead-lettered")
    assert consumer.state.failure is None
    assert not valid.keys() & watch.seen.keys(), "a valid order was dead-lettered"
    for coordinates in invalid:
        assert watch.seen[coordinates][dlq_format.TOPIC] == topic.encode()
        assert watch.seen[coordinates][dlq_format.REASON]


def _uid(document: bytes) -> str:
    return document.split(b'"', 4)[3].decode()
