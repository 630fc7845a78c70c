"""Dead-letter records: always small enough, always saying where they came from and why."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import orjson
from confluent_kafka import KafkaError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.kafka.client.publisher import PublishRefused
from adapters.kafka.client.records import Record
from adapters.kafka.dead_letters import format as dlq_format
from adapters.kafka.dead_letters.format import (
    MAX_REASON_BYTES,
    Source,
    cap_reason,
    dead_letter,
    stub,
)
from adapters.kafka.dead_letters.publisher import DeadLetterPublisher

sources = st.builds(
    Source,
    topic=st.text("abcdefgh.-", min_size=1, max_size=20),
    partition=st.integers(0, 1000),
    offset=st.integers(0, 2**40),
    timestamp_ms=st.none() | st.integers(0, 2**42),
    key=st.none() | st.binary(max_size=40) | st.binary(min_size=5000, max_size=20_000),
    value=st.binary(max_size=3000) | st.binary(min_size=20_000, max_size=30_000),
    headers=st.lists(
        st.tuples(st.sampled_from(["h", dlq_format.REPLAY_OF]), st.binary(max_size=50))
        | st.tuples(
            st.sampled_from(["big", dlq_format.REPLAY_OF]),
            st.binary(min_size=9000, max_size=20_000),
        ),
        max_size=3,
    ).map(tuple),
)


@given(sources, st.text(max_size=20_000), st.integers(500, 5000))
def test_a_dead_letter_fits_and_keeps_its_coordinates(
    source: Source, reason: str, max_bytes: int
) -> None:
    record = dead_letter(source, reason, max_bytes)
    headers = dict(record.headers)
    assert record.size <= max(max_bytes, 6_000)  # a stub is a few KB whatever the original
    assert stub(source, reason).size <= 6_000
    assert headers[dlq_format.FORMAT] == str(dlq_format.FORMAT_VERSION).encode()
    assert headers[dlq_format.TOPIC] == source.topic.encode()
    assert int(headers[dlq_format.PARTITION]) == source.partition
    assert int(headers[dlq_format.OFFSET]) == source.offset
    assert headers[dlq_format.SHA256] == hashlib.sha256(source.value).hexdigest().encode()
    assert len(headers[dlq_format.REASON]) <= MAX_REASON_BYTES
    headers[dlq_format.REASON].decode()  # cut at a character boundary: still UTF-8
    if dlq_format.STUB in headers:
        body = orjson.loads(record.value)
        assert body["original_bytes"] == len(source.value)
        assert body["offset"] == source.offset
    else:
        assert record.value == source.value
        assert record.key == source.key
        assert record.headers[-len(source.headers) or len(record.headers) :] == (
            source.headers or ()
        )


def test_a_message_near_the_size_limit_becomes_a_stub() -> None:
    source = Source("orders", 1, 42, None, b"k", b"x" * 999_000)
    record = dead_letter(source, "over the limit", max_bytes=1_000_000 - 2_000)
    assert dict(record.headers)[dlq_format.STUB] == b"true"
    assert len(record.value) < 1_000
    assert orjson.loads(record.value)["reason"] == "over the limit"


@given(st.text(max_size=10_000), st.integers(4, 500))
def test_reasons_are_capped_on_a_character_boundary(reason: str, limit: int) -> None:
    capped = cap_reason(reason, limit)
    assert len(capped) <= limit
    text = capped.decode()
    assert text == reason or text.endswith("…")


class SizeLimitedTopic:
    """Stands for a dead-letter topic whose limit is below ours: refuses larger records."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.stored: list[Record] = []

    def publish(self, topic: str, records: Sequence[Record]) -> int:
        refused = {
            i: KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
            for i, r in enumerate(records)
            if r.size > self.limit
        }
        self.stored += [r for i, r in enumerate(records) if i not in refused]
        if refused:
            raise PublishRefused(refused)
        return len(records)


@given(st.lists(st.tuples(sources, st.text(max_size=6000)), min_size=1, max_size=4))
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_every_dead_letter_goes_through_even_to_a_small_topic(
    letters: list[tuple[Source, str]],
) -> None:
    topic = SizeLimitedTopic(limit=2_000)
    sent = DeadLetterPublisher(topic, "orders.dlq").send(letters)  # type: ignore[arg-type]
    assert sent == len(letters) == len(topic.stored)
    offsets = sorted(int(dict(r.headers)[dlq_format.OFFSET]) for r in topic.stored)
    assert offsets == sorted(source.offset for source, _ in letters)
