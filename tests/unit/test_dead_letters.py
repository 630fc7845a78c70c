"""Dead-letter records: always small enough, always saying where they came from and why."""

from __future__ import annotations

import hashlib

import orjson
from hypothesis import given
from hypothesis import strategies as st

from adapters.kafka.dead_letters import MAX_REASON_BYTES, Source, cap_reason, dead_letter, stub

sources = st.builds(
    Source,
    topic=st.text("abcdefgh.-", min_size=1, max_size=20),
    partition=st.integers(0, 1000),
    offset=st.integers(0, 2**40),
    timestamp_ms=st.none() | st.integers(0, 2**42),
    key=st.none() | st.binary(max_size=40),
    value=st.binary(max_size=3000),
    headers=st.lists(st.tuples(st.text(max_size=10), st.binary(max_size=50)), max_size=3).map(
        tuple
    ),
)


@given(sources, st.text(max_size=20_000), st.integers(500, 5000))
def test_a_dead_letter_fits_and_keeps_its_coordinates(
    source: Source, reason: str, max_bytes: int
) -> None:
    record = dead_letter(source, reason, max_bytes)
    headers = dict(record.headers)
    assert record.size <= max(max_bytes, stub(source, reason).size)
    assert headers["dlq.topic"] == source.topic.encode()
    assert int(headers["dlq.partition"]) == source.partition
    assert int(headers["dlq.offset"]) == source.offset
    assert headers["dlq.sha256"] == hashlib.sha256(source.value).hexdigest().encode()
    assert len(headers["dlq.reason"]) <= MAX_REASON_BYTES
    headers["dlq.reason"].decode()  # cut at a character boundary: still UTF-8
    if "dlq.stub" in headers:
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
    assert dict(record.headers)["dlq.stub"] == b"true"
    assert len(record.value) < 1_000
    assert orjson.loads(record.value)["reason"] == "over the limit"


@given(st.text(max_size=10_000), st.integers(4, 500))
def test_reasons_are_capped_on_a_character_boundary(reason: str, limit: int) -> None:
    capped = cap_reason(reason, limit)
    assert len(capped) <= limit
    text = capped.decode()
    assert text == reason or text.endswith("…")
