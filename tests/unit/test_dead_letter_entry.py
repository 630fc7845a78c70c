"""Dead letters read back (adapters.kafka.dead_letters.format) and shown in a terminal
(entrypoints.cli.dead_letter_text), and the ``--since`` argument of ``dlq replay``: no
Kafka needed."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from confluent_kafka import Message
from hypothesis import given
from hypothesis import strategies as st

from adapters.kafka.client import raw_headers
from adapters.kafka.dead_letters import format as dlq_format
from adapters.kafka.dead_letters import reader
from adapters.kafka.dead_letters.format import (
    REPLAY_OF,
    CannotReplay,
    Source,
    cap_reason,
    dead_letter,
    parse,
    replay_record,
    stub,
)
from entrypoints.cli import dead_letter_text as dlq_text
from entrypoints.cli.dead_letters import since
from entrypoints.http.dead_letters import described
from order_core import DeadLetterId, DeadLettersUnavailable, utc_time

headers = st.lists(
    st.tuples(st.text("abcxyz-", min_size=1, max_size=8), st.binary(max_size=20)), max_size=3
).map(tuple)
sources = st.builds(
    Source,
    topic=st.text("abcdefgh.-", min_size=1, max_size=20),
    partition=st.integers(0, 1000),
    offset=st.integers(0, 2**40),
    timestamp_ms=st.none() | st.integers(0, 2**42) | st.integers(-(2**63), 2**63 - 1),
    key=st.none() | st.binary(max_size=40),
    value=st.binary(max_size=3000),
    headers=headers,
)


@given(sources, st.text(max_size=300))
def test_a_dead_letter_reads_back_as_it_was_written(source: Source, reason: str) -> None:
    letter = parse(7, 1, *attrs.astuple(dead_letter(source, reason, max_bytes=10**7)))
    assert letter.reason == cap_reason(reason).decode()
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        source.topic,
        source.partition,
        source.offset,
    )
    assert letter.source_timestamp_ms == source.timestamp_ms
    assert (letter.key, letter.value, letter.headers) == (source.key, source.value, source.headers)
    assert not letter.stub
    assert letter.replay_of is None
    assert letter.source == f"{source.topic}/{source.partition}@{source.offset}"
    assert letter.format_version == dlq_format.FORMAT_VERSION


@given(sources, st.none() | st.integers(-5, 10**6))
def test_a_record_of_a_newer_format_is_read_but_never_replayed(
    source: Source, version: int | None
) -> None:
    """Records written before the version header read as version 1; one of a newer
    version than this code writes is listed, and replaying it is refused with the reason."""
    record = dead_letter(source, "why", max_bytes=10**7)
    kept = tuple(h for h in record.headers if h[0] != dlq_format.FORMAT)
    if version is not None:
        kept = ((dlq_format.FORMAT, str(version).encode()), *kept)
    letter = parse(3, 1, record.key, record.value, kept)
    assert (letter.source_topic, letter.source_offset) == (source.topic, source.offset)
    if version is None or 1 <= version <= dlq_format.FORMAT_VERSION:
        assert letter.format_version == (1 if version is None else version)
        assert replay_record(letter).value == source.value
    elif version > dlq_format.FORMAT_VERSION:
        assert letter.format_version == version
        refusal = dlq_format.replay_refusal(letter)
        assert refusal is not None
        assert f"format {version}" in refusal
        with pytest.raises(CannotReplay, match="newer than this version"):
            replay_record(letter)
    else:  # 0 or negative: no version of ours
        assert letter.format_version == dlq_format.UNREADABLE_FORMAT
        with pytest.raises(CannotReplay, match="not a version number"):
            replay_record(letter)


@given(sources, st.binary(max_size=12).filter(lambda b: not (b.isdigit() and b.isascii())))
def test_a_format_header_that_is_no_number_is_never_replayed(source: Source, junk: bytes) -> None:
    record = dead_letter(source, "why", max_bytes=10**7)
    kept = ((dlq_format.FORMAT, junk), *(h for h in record.headers if h[0] != dlq_format.FORMAT))
    letter = parse(3, 1, record.key, record.value, kept)
    assert letter.format_version == dlq_format.UNREADABLE_FORMAT
    with pytest.raises(CannotReplay):
        replay_record(letter)


@given(sources, st.text(max_size=300))
def test_a_replay_is_the_original_marked_with_its_dead_letter_offset(
    source: Source, reason: str
) -> None:
    letter = parse(7, 1, *attrs.astuple(dead_letter(source, reason, max_bytes=10**7)))
    replay = replay_record(letter)
    assert (replay.key, replay.value) == (source.key, source.value)
    assert replay.headers == (*source.headers, (REPLAY_OF, b"7"))


def test_a_replay_that_fails_again_says_what_it_replayed_stub_or_not() -> None:
    original = Source("orders", 1, 5, None, b"k", b"{bad", (("trace", b"t"),))
    first = parse(7, 1, *attrs.astuple(dead_letter(original, "not JSON")))
    # The consumer reads the replay back as a new source, with the replay's headers.
    again = attrs.evolve(original, offset=90, headers=replay_record(first).headers)
    for record in (dead_letter(again, "not JSON"), stub(again, "not JSON")):
        letter = parse(12, 1, *attrs.astuple(record))
        assert letter.replay_of == DeadLetterId(0, 7)
        assert letter.source_offset == 90
        assert all(not name.startswith("dlq.") for name, _ in letter.headers)
    # Replayed once more, it names the newest dead letter only.
    assert replay_record(parse(12, 1, *attrs.astuple(dead_letter(again, "x")))).headers == (
        ("trace", b"t"),
        (REPLAY_OF, b"12"),
    )


def test_a_dead_letter_of_another_partition_is_named_partition_colon_offset() -> None:
    """Partition 0's are named by their offset alone in ``dlq.replay-of`` (as before the
    dead-letter topic could have more); any other's by ``PARTITION:OFFSET``."""
    original = Source("orders", 1, 5, None, b"k", b"{bad", (("trace", b"t"),))
    first = parse(17, 1, *attrs.astuple(dead_letter(original, "not JSON")), partition=2)
    assert (first.id, str(first.id)) == (DeadLetterId(2, 17), "2:17")
    replay = replay_record(first)
    assert replay.headers == (("trace", b"t"), (REPLAY_OF, b"2:17"))
    again = attrs.evolve(original, offset=90, headers=replay.headers)
    for record in (dead_letter(again, "not JSON"), stub(again, "not JSON")):
        letter = parse(3, 1, *attrs.astuple(record), partition=1)
        assert letter.replay_of == DeadLetterId(2, 17)
        assert "[replay of 2:17]" in dlq_text.listing([letter])
        assert "replay of      dead letter 2:17 (it failed again)" in dlq_text.details(letter, "t")
        view = described(letter)
        assert (view.partition, view.offset) == (1, 3)
        assert (view.replay_of_partition, view.replay_of) == (2, 17)
    assert dlq_format.replay_of(b"17") == DeadLetterId(0, 17)


@pytest.mark.parametrize(
    "junk", [b"", b"x", b"-1", b" 1", b"1:", b":1", b"1:2:3", b"1" * 20, b"1" * 11 + b":1"]
)
def test_a_replay_of_header_that_names_no_dead_letter_is_not_taken_for_one(junk: bytes) -> None:
    assert dlq_format.replay_of(junk) is None
    source = Source("orders", 1, 5, None, b"k", b"{}", ((REPLAY_OF, junk),))
    assert parse(3, 1, *attrs.astuple(dead_letter(source, "x"))).replay_of is None
    assert REPLAY_OF not in dict(stub(source, "x").headers)


def test_a_stub_says_so_and_cannot_be_replayed() -> None:
    source = Source("orders", 3, 99, None, None, b"x" * 5000, ())
    letter = parse(4, 1, *attrs.astuple(stub(source, "too large")))
    assert letter.stub
    assert letter.original_bytes == 5000
    with pytest.raises(CannotReplay, match=r"dead letter 0:4 is a stub.*5,000 bytes.*orders/3@99"):
        replay_record(letter)
    shown = dlq_text.details(letter, "orders.dlq")
    assert "STUB" in shown
    assert "cannot be shown or replayed" in shown


def test_headers_that_are_not_the_services_are_read_with_care() -> None:
    letter = parse(
        0, None, None, b"", ((dlq_format.PARTITION, b"two"), (dlq_format.REASON, b"\xff"))
    )
    assert letter.source_partition is None
    assert letter.reason == "\ufffd"
    assert letter.source == "?/?@?"


def test_control_characters_cannot_reach_the_terminal() -> None:
    hostile = "\x1b[2J\x1b]0;owned\x07 \u202eevil\u2028next"
    assert "\x1b" not in dlq_text.printable(hostile)
    assert "\u202e" not in dlq_text.printable(hostile)
    assert dlq_text.printable("a\nb", keep_newlines=True) == "a\nb"
    assert dlq_text.printable("a\nb") == "a\\nb"
    letter = parse(1, 1, None, hostile.encode(), ((dlq_format.REASON, hostile.encode()),))
    for text in (dlq_text.listing([letter]), dlq_text.details(letter, "t")):
        assert "\x1b" not in text
        assert "\u202e" not in text


def test_the_listing_is_one_line_each_with_marks() -> None:
    source = Source("orders", 2, 41, None, None, b"{}")
    letters = [
        parse(9, 1_700_000_000_000, *attrs.astuple(dead_letter(source, "line one\nline two"))),
        parse(
            10,
            None,
            *attrs.astuple(stub(attrs.evolve(source, headers=((REPLAY_OF, b"9"),)), "big")),
        ),
    ]
    lines = dlq_text.listing(letters).splitlines()
    assert lines[0].split() == ["partition:offset", "dead-lettered", "(UTC)", "source", "reason"]
    assert lines[1].split() == [
        "0:9",
        "2023-11-14",
        "22:13:20",
        "orders/2@41",
        "line",
        "one",
        "line",
        "two",
    ]
    assert lines[2].split() == [
        "0:10",
        "-",
        "orders/2@41",
        "[stub]",
        "[replay",
        "of",
        "0:9]",
        "big",
    ]
    assert len(dlq_text.one_line("x" * 500)) == dlq_text.REASON_WIDTH


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (b'{"a":[1,2]}', '11 bytes, JSON:\n{\n  "a": [\n    1,\n    2\n  ]\n}'),
        (b"plain\ntext", "10 bytes, not JSON:\nplain\ntext"),
        (b"\xff\x00", "2 bytes, not UTF-8:\n\\xff\\x00"),
        (b"[" * 100_000, "100,000 bytes, not JSON:\n" + "[" * 100_000),
    ],
)
def test_the_value_is_pretty_json_else_text_else_bytes(value: bytes, shown: str) -> None:
    assert dlq_text.value_text(value) == shown


def test_since_takes_a_duration_or_an_iso_time() -> None:
    now = datetime.now(UTC)
    assert abs(since("2h") - (now - timedelta(hours=2))) < timedelta(seconds=5)
    assert abs(since("1d12h") - (now - timedelta(hours=36))) < timedelta(seconds=5)
    assert since("2026-01-31T09:00Z") == datetime(2026, 1, 31, 9, tzinfo=UTC)
    assert since("2026-01-31T09:00") == datetime(2026, 1, 31, 9, tzinfo=UTC)  # UTC unless told
    assert since("2026-01-31T10:00+01:00") == datetime(2026, 1, 31, 9, tzinfo=UTC)
    for bad in ("yesterday", "2x", "-2h", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            since(bad)


@given(sources, st.integers(-(2**63), 2**63 - 1) | st.none())
def test_any_timestamp_is_shown_never_an_error(source: Source, written: int | None) -> None:
    """A record's timestamp is whatever its producer wrote (any 64-bit value): every view of
    its dead letter shows it, as a date when it is one."""
    letter = parse(3, written, *attrs.astuple(dead_letter(source, "not JSON")))
    shown = dlq_text.details(letter, "orders.dlq")
    assert dlq_text.listing([letter])
    view = described(letter)
    assert view.source.written_at == _iso(source.timestamp_ms)
    assert view.dead_lettered_at == _iso(written)
    for ms in (written, source.timestamp_ms):
        if ms is not None and utc_time(ms) is None:
            assert f"{ms} ms (not a date)" in shown


def _iso(ms: int | None) -> str | None:
    moment = utc_time(ms)
    return None if moment is None else moment.isoformat(timespec="milliseconds")


def test_a_reader_that_cannot_read_the_headers_refuses_rather_than_guess(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without its dlq.* headers a stub would read as an original, replayable: when the
    headers cannot be read (an unknown confluent-kafka layout), nothing is shown."""
    source = Source("orders", 0, 7, 1_700_000_000_000, b"k", b"x" * 2_000_000)
    record = stub(source, "too large")
    message = Message(
        topic="orders.dlq",
        partition=0,
        offset=3,
        key=record.key,
        value=record.value,
        headers=list(record.headers),
        timestamp=(1, 1_700_000_000_000),
    )
    read = reader._letter(message)
    assert read.stub
    assert dlq_format.replay_refusal(read) is not None
    monkeypatch.setattr(raw_headers, "_layout_ok", False)
    with pytest.raises(DeadLettersUnavailable, match="unknown Message layout"):
        reader._letter(message)
