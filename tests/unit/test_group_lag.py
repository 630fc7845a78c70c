"""The group's lag from the brokers: the figures from the offsets, and the poller that reads
them in the background (with a fake reader: no broker here)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.kafka.client.group_lag import (
    GroupLag,
    GroupLagPoller,
    LagReader,
    LagSource,
    LagUnknown,
    PartitionLag,
    PartitionOffsets,
    lag_seconds,
)
from entrypoints.container import build_container
from entrypoints.settings import ConfigError, load
from tests.unit.conftest import IN_MEMORY

offsets = st.integers(min_value=0, max_value=2**40)


@st.composite
def partitions(draw: st.DrawFn) -> PartitionOffsets:
    """A partition's bounds and a commit anywhere: none, below the log start (retention took
    it), inside, at the end, or past it (a log truncated under it)."""
    low = draw(offsets)
    high = low + draw(st.integers(min_value=0, max_value=2**20))
    committed = draw(st.none() | st.integers(min_value=0, max_value=high + 100))
    return PartitionOffsets(draw(st.integers(0, 1000)), committed, low, high)


@pytest.mark.parametrize(
    ("committed", "low", "high", "first", "messages"),
    [
        (4, 0, 10, 4, 6),  # the end minus the commit
        (10, 0, 10, 10, 0),  # all consumed
        (None, 0, 10, 0, 10),  # nothing committed: everything kept is unconsumed
        (None, 7, 10, 7, 3),  # ... from the log start, not 0
        (None, 10, 10, 10, 0),  # an empty log (or all of it past retention)
        (2, 5, 10, 5, 5),  # retention took what the commit points at: only what is kept
        (12, 0, 10, 12, 0),  # a log truncated under the commit: nothing to consume
    ],
)
def test_lag_in_messages_runs_from_the_commit_or_the_log_start_to_the_end(
    committed: int | None, low: int, high: int, first: int, messages: int
) -> None:
    partition = PartitionOffsets(0, committed, low, high)
    assert (partition.first_unconsumed, partition.messages) == (first, messages)


@given(partitions())
def test_the_lag_is_never_negative_nor_more_than_the_log_keeps(p: PartitionOffsets) -> None:
    assert 0 <= p.messages <= p.high - p.low
    assert p.low <= p.first_unconsumed
    if p.committed is None:
        assert p.messages == p.high - p.low
    elif p.low <= p.committed <= p.high:
        assert p.messages == p.high - p.committed


@given(partitions(), st.integers(min_value=0, max_value=10_000))
def test_new_messages_add_to_the_lag_and_commits_take_from_it(
    p: PartitionOffsets, more: int
) -> None:
    arrived = PartitionOffsets(p.partition, p.committed, p.low, p.high + more)
    if p.committed is None or p.committed <= p.high:
        assert arrived.messages == p.messages + more
    consumed = PartitionOffsets(p.partition, p.first_unconsumed + more, p.low, p.high)
    assert consumed.messages == max(0, p.messages - more)


timestamps = st.floats(min_value=0, max_value=4e9, allow_nan=False)


@given(st.integers(min_value=1, max_value=10**9), timestamps, timestamps)
def test_lag_in_seconds_is_the_age_of_the_oldest_message_waiting(
    messages: int, oldest: float, now: float
) -> None:
    seconds = lag_seconds(messages, oldest, now)
    assert seconds >= 0  # a producer's clock ahead of ours is no negative age
    if oldest <= now:
        assert seconds == now - oldest


@given(st.none() | timestamps, timestamps)
def test_no_message_waiting_is_no_lag_in_seconds(oldest: float | None, now: float) -> None:
    assert lag_seconds(0, oldest, now) == 0.0


def test_messages_waiting_need_the_timestamp_of_the_oldest() -> None:
    with pytest.raises(ValueError, match="timestamp"):
        lag_seconds(3, None, 100.0)


def test_a_partition_lag_is_made_from_its_offsets_and_its_oldest_record() -> None:
    now = 1_000.0
    assert PartitionLag.of(PartitionOffsets(2, 4, 0, 10), 940.0, now) == PartitionLag(
        2, 6, 60.0, 4, 10
    )
    assert PartitionLag.of(PartitionOffsets(3, 10, 0, 10), None, now).seconds == 0.0


# -- the poller -----------------------------------------------------------------------------

SOURCE = LagSource("broker:9092", "the-group", "the-topic")
LAGS = (PartitionLag(0, 5, 12.5, 10, 15), PartitionLag(1, 0, 0.0, 7, 7))


class ScriptedReader:
    """Answers each read with the next of ``answers`` (a reading, or an exception to raise),
    then repeats the last one."""

    def __init__(self, answers: list[tuple[PartitionLag, ...] | Exception]) -> None:
        self.answers = answers
        self.reads = 0
        self.closed = False
        self.block = threading.Event()
        self.block.set()

    def read(self) -> tuple[PartitionLag, ...]:
        self.block.wait(10)
        answer = self.answers[min(self.reads, len(self.answers) - 1)]
        self.reads += 1
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self) -> None:
        self.closed = True


class Reports:
    def __init__(self) -> None:
        self.readings: list[GroupLag] = []

    def __call__(self, reading: GroupLag) -> None:
        self.readings.append(reading)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[GroupLag]:
        deadline = time.monotonic() + timeout
        while len(self.readings) < count:
            assert time.monotonic() < deadline, f"{len(self.readings)} readings, not {count}"
            time.sleep(0.01)
        return self.readings


@pytest.fixture
def reports() -> Reports:
    return Reports()


def poller(reader: LagReader, reports: Reports, every: float = 0.05) -> GroupLagPoller:
    return GroupLagPoller(SOURCE, every, reports, timeout=1.0, reader=lambda _s, _t: reader)


@pytest.fixture
def running() -> Iterator[list[GroupLagPoller]]:
    started: list[GroupLagPoller] = []
    yield started
    for each in started:
        each.stop(timeout=5)


def test_the_poller_reads_at_once_then_every_interval(
    reports: Reports, running: list[GroupLagPoller]
) -> None:
    reader = ScriptedReader([LAGS])
    running.append(each := poller(reader, reports, every=3600))
    each.start()
    assert reports.wait_for(1) == [GroupLag("the-group", "the-topic", LAGS)]
    time.sleep(0.2)
    assert reader.reads == 1  # the next one an hour later
    assert each.stop(timeout=2)
    assert reader.closed


def test_an_unknown_reading_is_reported_as_unknown_and_logged_once(
    reports: Reports, running: list[GroupLagPoller], caplog: pytest.LogCaptureFixture
) -> None:
    reader = ScriptedReader(
        [LAGS, LagUnknown("the brokers did not answer in time"), LagUnknown("still"), LAGS]
    )
    running.append(each := poller(reader, reports))
    with caplog.at_level("INFO", logger="adapters.kafka.client.group_lag"):
        each.start()
        readings = reports.wait_for(4)[:4]
        each.stop(timeout=2)
    assert [r.known for r in readings] == [True, False, False, True]
    assert readings[1] == GroupLag(
        "the-group", "the-topic", None, "the brokers did not answer in time"
    )
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "lag of group the-group on the-topic unknown: the brokers did not answer in time",
        "lag of group the-group on the-topic read again",
    ]


def test_a_bug_or_a_client_that_cannot_be_made_is_an_unknown_reading_not_a_dead_thread(
    reports: Reports, running: list[GroupLagPoller]
) -> None:
    reader = ScriptedReader([RuntimeError("boom"), LAGS])
    running.append(each := poller(reader, reports))
    each.start()
    assert [r.known for r in reports.wait_for(2)[:2]] == [False, True]
    assert reports.readings[0].reason == "RuntimeError: boom"

    def no_client(_source: LagSource, _timeout: float) -> LagReader:
        raise ValueError("bad property")

    broken = GroupLagPoller(SOURCE, 0.05, later := Reports(), timeout=1.0, reader=no_client)
    running.append(broken)
    broken.start()
    assert [r.known for r in later.wait_for(2)[:2]] == [False, False]
    assert broken.alive


def test_stop_is_bounded_while_a_reading_hangs(
    reports: Reports, running: list[GroupLagPoller]
) -> None:
    reader = ScriptedReader([LAGS])
    reader.block.clear()  # the read hangs (a broker that does not answer)
    running.append(each := poller(reader, reports))
    each.start()
    started = time.monotonic()
    assert not each.stop(timeout=0.3)
    assert time.monotonic() - started < 1.0
    reader.block.set()  # the reading ends (by its deadline): the thread closes and ends
    deadline = time.monotonic() + 5
    while each.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not each.alive
    assert reader.closed


# -- the setting and the wiring ---------------------------------------------------------------


def test_the_poll_interval_is_off_or_at_least_a_second() -> None:
    assert load({}).lag_poll_seconds == 15.0
    assert load({"ORDER_SERVICE_LAG_POLL_SECONDS": "0"}).lag_poll_seconds == 0
    assert load({}, {"lag_poll_seconds": "2.5"}).lag_poll_seconds == 2.5
    for bad in ("0.01", "-1", "inf", "soon"):
        with pytest.raises(ConfigError, match="LAG_POLL_SECONDS"):
            load({"ORDER_SERVICE_LAG_POLL_SECONDS": bad})


def test_the_container_starts_no_poller_when_it_is_off() -> None:
    container = build_container(load({}, IN_MEMORY))
    assert container.group_lag() is None
    container.shutdown_resources()


def test_the_container_starts_one_poller_and_stops_it_bounded_at_shutdown() -> None:
    """Against a port nothing listens on: the readings are unknown, shutdown is still quick."""
    settings = load({}, {**IN_MEMORY, "lag_poll_seconds": "1", "kafka_bootstrap": "127.0.0.1:1"})
    container = build_container(settings)
    started = container.group_lag()
    assert isinstance(started, GroupLagPoller)
    assert container.group_lag() is started  # a Resource: one per process
    assert started.alive
    assert (started.source.group, started.source.topic) == ("order-service", "orders")
    began = time.monotonic()
    container.shutdown_resources()
    assert time.monotonic() - began < 3.0
