"""What the consumer reads off a fetched confluent-kafka message.

Every part of a record is input from anyone who can produce to the topic. The key and the
value are bytes, passed on as they are; the timestamp is any 64-bit integer; the headers are
read as bytes by ``raw_headers`` (never with ``Message.headers()``, which a header name that
is not UTF-8 breaks), at most once per message, and only when needed: for a dead letter and
for tracing. The order in a record's value is stored whatever its headers hold.
"""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, Message

from adapters.kafka.client.raw_headers import RawHeaders, read_raw_headers
from adapters.kafka.client.records import Headers
from adapters.kafka.dead_letters.format import Source
from adapters.kafka.ingest.offset_ledger import OffsetLedger, Span
from adapters.kafka.ingest.state import ConsumerFailed
from order_core.ingest import IngestResult

log = logging.getLogger("adapters.kafka.ingest.consumer")


def position(message: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a fetched record (never None once fetched)."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("message has no position (an error event, not a record)")
    return topic, partition, offset


class HeaderCache:
    """Each message's headers of one batch, read at most once, on first need."""

    def __init__(self, batch: list[Message]) -> None:
        self._batch = batch
        self._read: dict[int, RawHeaders] = {}

    def __getitem__(self, index: int) -> RawHeaders:
        found = self._read.get(index)
        if found is None:
            found = self._read[index] = read_raw_headers(self._batch[index])
            if found.dropped:
                _, partition, offset = position(self._batch[index])
                log.warning(
                    "record header(s) whose name is not UTF-8 ignored",
                    extra={"partition": partition, "offset": offset, "dropped": found.dropped},
                )
        return found

    def all(self) -> list[Headers]:
        return [self[index].pairs for index in range(len(self._batch))]


def source(message: Message, read: RawHeaders) -> tuple[Source, str]:
    """The message as the source of a dead letter, and what to add to its reason."""
    topic, partition, offset = position(message)
    kind, timestamp = message.timestamp()
    return Source(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp if kind else None,
        key=message.key(),
        value=message.value() or b"",
        headers=read.pairs,
    ), read.note()


def log_outcomes(batch: list[Message], result: IngestResult) -> None:
    """One event per dead letter; with DEBUG, one per order saved or already stored."""
    for rejected in result.rejected:
        _, partition, offset = position(batch[rejected.index])
        log.info(
            "dead-lettered message",
            extra={"partition": partition, "offset": offset, "reason": rejected.reason[:500]},
        )
    if log.isEnabledFor(logging.DEBUG):
        for index, order_uid in result.accepted:
            _, partition, offset = position(batch[index])
            log.debug(
                "order saved" if order_uid in result.inserted else "order already stored",
                extra={"order_uid": order_uid, "partition": partition, "offset": offset},
            )


def take(
    messages: list[Message], ledger: OffsetLedger, max_bytes: int | None = None
) -> tuple[list[Message], list[Span], dict[tuple[str, int], int]]:
    """The fetched records the ledger says are ours, and their spans, up to ``max_bytes``
    of keys and values (at least one record); and, per partition, the offset to fetch again
    from for the records left over (seek there). Error events are logged, or stop the
    consumer when librdkafka calls them fatal."""
    runs: dict[tuple[str, int], list[Message]] = {}
    left_over: dict[tuple[str, int], int] = {}
    weight = taken = 0
    for message in messages:
        error = message.error()
        if error is None:
            topic, partition, offset = position(message)
            key = (topic, partition)
            if key in left_over:
                continue
            size = len(message.value() or b"") + len(message.key() or b"")
            if max_bytes is not None and taken and weight + size > max_bytes:
                left_over[key] = offset
                continue
            weight += size
            taken += 1
            runs.setdefault(key, []).append(message)
        elif error.code() != KafkaError._PARTITION_EOF:
            if error.fatal():
                raise ConsumerFailed(f"Kafka: {error.str()}")
            log.warning("consumer error: %s", error.str())
    batch: list[Message] = []
    spans: list[Span] = []
    for key, run in runs.items():
        span = ledger.fetched(key, position(run[0])[2], position(run[-1])[2])
        if span is not None:
            spans.append(span)
            batch.extend(run)
    return batch, spans, left_over
