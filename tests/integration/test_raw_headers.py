"""Record headers read as bytes (adapters/kafka/client/raw_headers.py) against the real broker: the
locked confluent-kafka's Message layout is the one the reader knows, and what it reads is
what was sent, whatever the names hold."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, Message

from adapters.kafka.client.raw_headers import RawHeaders, layout_known, read_raw_headers
from adapters.kafka.client.topics import ensure_topics
from tests.integration.raw_producer import RawProducer, RawRecord
from tests.support import KAFKA

pytestmark = pytest.mark.integration

SENT = [
    RawRecord(b"k", b"v", ((b"good", b"1"), (b"\xff\xfe", b"2"), (b"", b""), (b"n", None))),
    RawRecord(None, None, ((b"caf\xc3\xa9", b"\x00\xff"), (b"\xe9", b"x"), (b"\xe9", b"y"))),
    RawRecord(b"", b"no headers"),
]
EXPECTED = [
    RawHeaders((("good", b"1"), ("", b""), ("n", b"")), dropped=1),
    RawHeaders((("café", b"\x00\xff"),), dropped=2),
    RawHeaders(()),
]


def _fetch(topic: str, count: int) -> list[Message]:
    consumer = Consumer(
        {"bootstrap.servers": KAFKA, "group.id": f"raw-{topic}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    found: list[Message] = []
    deadline = time.monotonic() + 30
    try:
        while len(found) < count and time.monotonic() < deadline:
            found += [m for m in consumer.consume(10, 0.5) if m.error() is None]
    finally:
        consumer.close()
    return sorted(found, key=lambda m: m.offset() or 0)


def test_headers_are_read_as_sent_names_that_are_not_utf8_dropped_and_counted() -> None:
    topic = f"raw-headers-{uuid.uuid4().hex[:8]}"
    ensure_topics(KAFKA, {topic: 1})
    producer = RawProducer(KAFKA)
    try:
        assert all(d.ok for d in producer.send(topic, SENT))
    finally:
        producer.close()
    fetched = _fetch(topic, len(SENT))
    assert layout_known(fetched[0]), "the locked confluent-kafka's Message layout changed"
    assert [read_raw_headers(m) for m in fetched] == EXPECTED
    # Read twice: the same (the client's own conversion would crash the second time).
    assert [read_raw_headers(m) for m in fetched] == EXPECTED


def test_headers_the_client_converted_already_are_read_through_it() -> None:
    topic = f"raw-headers-{uuid.uuid4().hex[:8]}"
    ensure_topics(KAFKA, {topic: 1})
    producer = RawProducer(KAFKA)
    try:
        assert producer.send(topic, [RawRecord(b"k", b"v", ((b"a", b"1"), (b"b", None)))])[0].ok
    finally:
        producer.close()
    (message,) = _fetch(topic, 1)
    assert message.headers() == [("a", b"1"), ("b", None)]
    assert read_raw_headers(message) == RawHeaders((("a", b"1"), ("b", b"")))
