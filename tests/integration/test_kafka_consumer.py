"""The Kafka consumer against the real broker and database: offsets follow the database."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import orjson
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters.caches.memory import InMemoryOrderCache
from adapters.kafka.client.publisher import KafkaPublisher
from adapters.kafka.client.records import Record
from adapters.kafka.dead_letters import format as dlq_format
from adapters.kafka.dead_letters.publisher import DeadLetterPublisher
from adapters.kafka.ingest.consumer import ConsumerSettings, OrderConsumer
from adapters.postgres.repository import PostgresOrderRepository
from adapters.telemetry.tracing import NO_TRACING, Tracing, tracing_from_environment
from order_core import CacheGateway, EncodedOrder, RepositoryUnavailable, SaveResult, SaveThenCache
from order_tools.fake_orders import messages
from tests.conftest import SAMPLE_ID
from tests.integration.kafka_helpers import (
    committed_offsets,
    end_offsets,
    publish,
    read_all,
    running,
    wait_for,
)
from tests.support import KAFKA

pytestmark = pytest.mark.integration


class WatchedRepository:
    """The real repository, plus a record of the committed offsets seen at each save,
    and the power to fail the first ``failures`` saves as an unreachable database would."""

    def __init__(self, real: PostgresOrderRepository, topic: str, group: str, failures: int = 0):
        self.real = real
        self.topic = topic
        self.group = group
        self.failures = failures
        self.calls = 0
        self.committed_during_saves: list[dict[int, int]] = []

    def save_many(self, orders: Sequence[EncodedOrder]) -> SaveResult:
        self.calls += 1
        self.committed_during_saves.append(committed_offsets(self.topic, self.group))
        if self.calls <= self.failures:
            raise RepositoryUnavailable("injected: database unreachable")
        return self.real.save_many(orders)

    def get_document(self, order_uid: str) -> bytes | None:
        return self.real.get_document(order_uid)

    def recent_documents(self, limit: int, batch_size: int):  # type: ignore[no-untyped-def]
        return self.real.recent_documents(limit, batch_size)

    def ping(self) -> None:
        self.real.ping()


def make_consumer(
    topic: str, repository: object, batch_size: int = 200, tracing: Tracing = NO_TRACING
) -> OrderConsumer:
    settings = ConsumerSettings(
        bootstrap_servers=KAFKA,
        topic=topic,
        group_id=f"group-{topic}",
        batch_size=batch_size,
        retry_initial=0.2,
        retry_max=1.0,
    )
    ingest = SaveThenCache(repository, CacheGateway(InMemoryOrderCache()))  # type: ignore[arg-type]
    dead_letters = DeadLetterPublisher(KafkaPublisher(KAFKA), f"{topic}.dlq")
    return OrderConsumer(settings, ingest, dead_letters, tracing=tracing)


def test_sample_is_accepted_exactly_as_it_is(
    topic: str, repository: PostgresOrderRepository, sample_bytes: bytes
) -> None:
    publish(topic, [(SAMPLE_ID.encode(), sample_bytes)])
    with running(make_consumer(topic, repository)):
        wait_for(
            lambda: repository.get_document(SAMPLE_ID) is not None,
            what="the sample in PostgreSQL",
        )
    document = repository.get_document(SAMPLE_ID)
    assert document is not None
    assert orjson.loads(document) == orjson.loads(sample_bytes)


def test_offsets_are_committed_only_after_the_database_commit(
    topic: str, repository: PostgresOrderRepository
) -> None:
    count = 300
    publish(topic, [(k, v) for k, v, _ in messages(count, seed=1)])
    ends = end_offsets(topic)
    group = f"group-{topic}"
    watched = WatchedRepository(repository, topic, group, failures=3)
    with running(make_consumer(topic, watched)) as consumer:
        wait_for(lambda: committed_offsets(topic, group) == ends, what="all offsets committed")
    # While the saves failed nothing was committed, and no save saw its own batch committed.
    assert watched.committed_during_saves[:3] == [dict.fromkeys(range(4), 0)] * 3
    assert consumer.state.retries >= 3
    assert repository.count() == count
    assert sum(ends.values()) == count


def test_a_duplicate_message_does_not_create_a_second_order(
    topic: str, repository: PostgresOrderRepository, sample_bytes: bytes
) -> None:
    publish(topic, [(SAMPLE_ID.encode(), sample_bytes)] * 3)
    with running(make_consumer(topic, repository)) as consumer:
        wait_for(lambda: consumer.state.messages == 3, what="three messages handled")
    publish(topic, [(SAMPLE_ID.encode(), sample_bytes)])
    with running(make_consumer(topic, repository)) as consumer:
        wait_for(lambda: consumer.state.messages == 1, what="the repeat handled")
    assert repository.count() == 1
    assert consumer.state.already_stored == 1


def test_invalid_messages_go_to_the_dead_letter_topic_with_reasons(
    topic: str, repository: PostgresOrderRepository, sample_bytes: bytes
) -> None:
    bad = [(None, b"not json"), (b"k", b""), (None, b'{"order_uid": "x"}')]
    publish(topic, [*bad, (SAMPLE_ID.encode(), sample_bytes)])
    group = f"group-{topic}"
    ends = end_offsets(topic)
    with running(make_consumer(topic, repository)):
        wait_for(lambda: committed_offsets(topic, group) == ends, what="offsets committed")
    assert repository.count() == 1
    dead = read_all(f"{topic}.dlq", expected=3)
    assert sorted(m.value() for m in dead) == sorted(v for _, v in bad)  # type: ignore[attr-defined]
    for message in dead:
        headers = dict(message.headers())  # type: ignore[attr-defined]
        assert headers[dlq_format.TOPIC] == topic.encode()
        assert headers[dlq_format.REASON]
        assert int(headers[dlq_format.OFFSET]) >= 0
    reasons = {m.value(): dict(m.headers())[dlq_format.REASON].decode() for m in dead}  # type: ignore[attr-defined]
    assert "not JSON" in reasons[b"not json"]
    assert "empty" in reasons[b""]
    assert "track_number: is required" in reasons[b'{"order_uid": "x"}']


def test_consumer_events_carry_order_uid_partition_and_offset(
    topic: str,
    repository: PostgresOrderRepository,
    sample_bytes: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    publish(topic, [(SAMPLE_ID.encode(), sample_bytes), (b"x", b"junk")])
    consumer = make_consumer(topic, repository)
    with caplog.at_level(logging.DEBUG, logger="adapters.kafka.ingest.consumer"), running(consumer):
        wait_for(lambda: consumer.state.messages == 2, what="two messages handled")
    saved = [r for r in caplog.records if r.getMessage() == "order saved"]
    assert [(r.order_uid, r.partition >= 0, r.offset >= 0) for r in saved] == [  # type: ignore[attr-defined]
        (SAMPLE_ID, True, True)
    ]
    dead = [r for r in caplog.records if r.getMessage() == "dead-lettered message"]
    assert len(dead) == 1
    assert "not JSON" in dead[0].reason  # type: ignore[attr-defined]


def test_each_batch_is_a_span_linked_to_its_messages_traces(
    topic: str, repository: PostgresOrderRepository, sample_bytes: bytes
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traced = Record(
        SAMPLE_ID.encode(),
        sample_bytes,
        (("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01".encode()),),
    )
    publisher = KafkaPublisher(KAFKA)
    publisher.publish(topic, [traced, Record(None, b"junk")])
    publisher.close()
    consumer = make_consumer(topic, repository, tracing=tracing_from_environment({}, provider))
    with running(consumer):
        wait_for(lambda: consumer.state.messages == 2, what="two messages handled")
    spans = exporter.get_finished_spans()
    assert spans
    linked = {format(link.context.trace_id, "032x") for s in spans for link in s.links}
    assert trace_id in linked
    totals = {
        key: sum(int(str((s.attributes or {})[key])) for s in spans)
        for key in ("messaging.batch.message_count", "order_service.saved")
    }
    assert totals == {"messaging.batch.message_count": 2, "order_service.saved": 1}
    assert {s.attributes["order_service.outcome"] for s in spans} == {"done"}  # type: ignore[index]
