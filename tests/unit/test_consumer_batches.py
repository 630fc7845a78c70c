"""The consumer's pure parts: batches bounded by bytes, progress for readiness, dead letters
sent once when a batch is retried."""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import SimpleNamespace

import pytest
from confluent_kafka import Message, TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from adapters.kafka.client.publisher import PublishFailed
from adapters.kafka.client.records import Record
from adapters.kafka.dead_letters import format as dlq_format
from adapters.kafka.dead_letters.format import Source
from adapters.kafka.dead_letters.publisher import DeadLetterPublisher
from adapters.kafka.ingest.consumer import OrderConsumer
from adapters.kafka.ingest.messages import take
from adapters.kafka.ingest.offset_ledger import OffsetLedger
from adapters.kafka.ingest.state import ConsumerSettings, ConsumerState
from entrypoints.readiness import consumer_check

TOPIC = "orders"


@st.composite
def fetches(draw: st.DrawFn) -> list[Message]:
    """What one consume() may return: runs of several partitions, interleaved, in order
    within each partition, values of any size."""
    sizes = draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5000)), max_size=40))
    next_offset = dict.fromkeys(range(4), 0)
    fetched = []
    for partition, size in sizes:
        offset = next_offset[partition]
        next_offset[partition] += 1
        fetched.append(Message(topic=TOPIC, partition=partition, offset=offset, value=b"x" * size))
    return fetched


@given(fetches(), st.integers(1, 20_000))
def test_a_batch_stops_at_its_byte_bound_and_each_partition_resumes_where_it_stopped(
    fetched: list[Message], max_bytes: int
) -> None:
    ledger = OffsetLedger()
    for partition in range(4):
        ledger.assign((TOPIC, partition))
    batch, spans, left_over = take(fetched, ledger, max_bytes)
    weight = sum(len(m.value() or b"") for m in batch)
    assert weight <= max_bytes or len(batch) == 1
    assert bool(batch) == bool(fetched)  # at least one message, whatever its size
    for partition in range(4):
        mine = [m.offset() for m in fetched if m.partition() == partition]
        taken = [m.offset() for m in batch if m.partition() == partition]
        assert taken == mine[: len(taken)]  # a prefix: nothing skipped within a partition
        if len(taken) < len(mine):
            assert left_over[(TOPIC, partition)] == mine[len(taken)]
        else:
            assert (TOPIC, partition) not in left_over
    assert sorted((s.partition[1], s.first, s.last) for s in spans) == sorted(
        (p, min(o), max(o))
        for p in range(4)
        if (o := [m.offset() or 0 for m in batch if m.partition() == p])
    )


def test_without_a_byte_bound_the_whole_fetch_is_one_batch() -> None:
    ledger = OffsetLedger()
    ledger.assign((TOPIC, 0))
    fetched = [Message(topic=TOPIC, partition=0, offset=i, value=b"x" * 10**6) for i in range(3)]
    batch, _, left_over = take(fetched, ledger)
    assert len(batch) == 3
    assert left_over == {}


def test_progress_is_what_readiness_reads() -> None:
    state = ConsumerState(running=True)
    assert state.stalled_for() == 0.0
    state.working()
    state.last_progress_at -= 100  # a batch handed over 100 s ago and not done
    assert state.stalled_for() >= 100
    state.batch_failed("PostgreSQL unavailable: connection refused")
    assert state.stalled_for() >= 100  # a failed attempt is no progress
    state.caught_up()  # its partitions went away meanwhile: nothing waits any more
    assert (state.stalled_for(), state.retrying_since, state.last_error) == (0.0, None, None)


def _thread(state: ConsumerState | None, alive: bool = True, waiting: str | None = None) -> object:
    return SimpleNamespace(
        failure=None, consumer=object(), alive=alive, state=state, waiting_for=waiting
    )


def test_readiness_says_why_the_consumer_is_not_ready() -> None:
    assert consumer_check(None, 60) is None
    never = _thread(ConsumerState(running=False), waiting="Kafka not reachable: timed out")
    assert consumer_check(never, 60) == "not started yet (Kafka not reachable: timed out)"  # type: ignore[arg-type]
    running = ConsumerState(running=True)
    assert consumer_check(_thread(running), 60) == "ok"  # type: ignore[arg-type]
    running.working()
    running.last_progress_at = time.monotonic() - 61
    assert consumer_check(_thread(running), 60) == (  # type: ignore[arg-type]
        "no batch completed for 61s while work waits (limit 60s): a save has not returned"
    )
    running.batch_failed("PostgreSQL unavailable: lock timeout")
    assert consumer_check(_thread(running), 60).endswith(": PostgreSQL unavailable: lock timeout")  # type: ignore[arg-type, union-attr]
    assert consumer_check(_thread(running), 0) == "ok"  # type: ignore[arg-type]
    assert consumer_check(_thread(running, alive=False), 60) == "stopped"  # type: ignore[arg-type]


def test_readiness_fails_while_done_work_goes_unacknowledged_for_long() -> None:
    """A cluster without enough in-sync replicas takes no commit, and the consumer may be
    idle meanwhile (nothing new can be published): not ready, and it says why."""
    state = ConsumerState(running=True)
    state.caught_up()
    state.commit_failed("NOT_ENOUGH_REPLICAS")
    assert consumer_check(_thread(state), 60) == "ok"  # type: ignore[arg-type]
    assert state.commit_failing_since is not None
    state.commit_failing_since -= 61
    state.commit_failed("COORDINATOR_NOT_AVAILABLE")  # the first failure's time is kept
    assert consumer_check(_thread(state), 60) == (  # type: ignore[arg-type]
        "offsets not committed for 61s (limit 60s): COORDINATOR_NOT_AVAILABLE"
    )
    assert consumer_check(_thread(state), 0) == "ok"  # type: ignore[arg-type]
    state.committed_now()
    assert consumer_check(_thread(state), 60) == "ok"  # type: ignore[arg-type]
    assert state.commits_failing_for() == 0.0


class HalfDeliveringTopic:
    """Acknowledges the first ``delivered`` records of the first publish, then fails it as a
    broker going away would; later publishes go through."""

    def __init__(self, delivered: int) -> None:
        self.delivered = delivered
        self.stored: list[Record] = []
        self.calls = 0

    def publish(self, topic: str, records: Sequence[Record], timeout: float | None = None) -> int:
        self.calls += 1
        if self.calls == 1:
            self.stored += records[: self.delivered]
            raise PublishFailed("broker gone", frozenset(range(self.delivered)))
        self.stored += records
        return len(records)


@pytest.mark.parametrize("delivered", [0, 1, 3, 5])
def test_a_retried_batch_sends_each_dead_letter_once(delivered: int) -> None:
    letters = [(Source(TOPIC, 0, i, None, None, b"bad"), "not JSON") for i in range(5)]
    topic = HalfDeliveringTopic(delivered)
    publisher = DeadLetterPublisher(topic, "orders.dlq")  # type: ignore[arg-type]
    with pytest.raises(PublishFailed):
        publisher.send(letters)
    assert publisher.send(letters) == 5  # the retry: every letter is accounted for
    offsets = [int(dict(r.headers)[dlq_format.OFFSET]) for r in topic.stored]
    assert sorted(offsets) == list(range(5))  # each once


def test_a_retry_whose_partitions_were_taken_away_no_longer_holds_readiness() -> None:
    """Finding: "retrying one batch" stayed the reason after that batch's partitions were
    revoked during the wait. Once every partition of the retry is gone and nothing else
    waits, the consumer is caught up."""
    settings = ConsumerSettings(
        bootstrap_servers="127.0.0.1:1", topic=TOPIC, group_id="g", batch_size=10, retry_max=1
    )
    consumer = OrderConsumer(settings, None, None)  # type: ignore[arg-type]
    consumer.state.running = True
    consumer.state.batch_failed("PostgreSQL unavailable: connection refused")
    consumer.state.last_progress_at -= 120
    consumer._retrying.update({(TOPIC, 0), (TOPIC, 1)})
    thread = _thread(consumer.state)
    assert consumer_check(thread, 60).startswith("no batch completed for 120s")  # type: ignore[arg-type, union-attr]
    consumer._released([TopicPartition(TOPIC, 0)])
    assert consumer.state.stalled_for() >= 120  # partition 1 still waits
    consumer._released([TopicPartition(TOPIC, 1)])
    assert consumer_check(thread, 60) == "ok"  # type: ignore[arg-type]
    assert consumer.state.retrying_since is None
