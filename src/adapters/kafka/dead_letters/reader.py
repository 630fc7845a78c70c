"""Reads the dead-letter topic by offset: for operators' listings, ``show`` and replays.

A plain consumer is assigned to the topic's one partition (the service creates it with
one, so offsets number the dead letters in order): it joins no group and commits nothing,
so reading never moves anyone's position and any number of readers can run at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from types import TracebackType

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from adapters.kafka.client.raw_headers import read_raw_headers
from adapters.kafka.dead_letters.format import parse
from order_core import DeadLetter, DeadLettersUnavailable

PARTITION = 0
NO_TOPIC = frozenset({KafkaError._UNKNOWN_PARTITION, KafkaError.UNKNOWN_TOPIC_OR_PART})
_BATCH = 500


class DeadLetterReader:
    """A ``DeadLetterArchive`` (order_core.ports) over the dead-letter topic."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        client_config: Mapping[str, str] | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.topic = self.name = topic
        self._timeout = timeout
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": "order-service-dead-letter-reader",  # required; never joined
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                # A fetch in flight at the end of the topic holds a new assignment back
                # this long: short, since every read starts with one.
                "fetch.wait.max.ms": 25,
                **(client_config or {}),
            }
        )

    def __enter__(self) -> DeadLetterReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._consumer.close()

    def bounds(self) -> tuple[int, int]:
        """The first offset still kept and the next offset to be written; (0, 0) when the
        topic does not exist yet (nothing was ever dead-lettered)."""
        try:
            low, high = self._consumer.get_watermark_offsets(
                TopicPartition(self.topic, PARTITION), timeout=self._timeout
            )
        except KafkaException as exc:
            if exc.args[0].code() in NO_TOPIC:
                return 0, 0
            raise DeadLettersUnavailable(f"cannot read {self.topic}: {exc.args[0].str()}") from exc
        return int(low), int(high)

    def read(self, start: int, end: int) -> Iterator[DeadLetter]:
        """The dead letters at offsets ``start`` to ``end - 1`` still kept, in order."""
        low, high = self.bounds()
        start, end = max(start, low), min(end, high)
        if start >= end:
            return
        self._consumer.assign([TopicPartition(self.topic, PARTITION, start)])
        try:
            yield from self._fetch(start, end)
        finally:
            self._consumer.unassign()

    def latest(self, limit: int) -> list[DeadLetter]:
        """The last ``limit`` dead letters, oldest first."""
        low, high = self.bounds()
        return list(self.read(max(low, high - limit), high))

    def at(self, offset: int) -> DeadLetter | None:
        return next(self.read(offset, offset + 1), None)

    def since(self, timestamp_ms: int) -> Iterator[DeadLetter]:
        """The dead letters written at or after ``timestamp_ms`` (Unix ms), oldest first."""
        wanted = TopicPartition(self.topic, PARTITION, timestamp_ms)
        try:
            found = self._consumer.offsets_for_times([wanted], timeout=self._timeout)[0]
        except KafkaException as exc:
            if exc.args[0].code() in NO_TOPIC:
                return
            raise DeadLettersUnavailable(f"cannot read {self.topic}: {exc.args[0].str()}") from exc
        if found.offset >= 0:  # -1: every record is older
            yield from self.read(found.offset, 2**63 - 1)

    def _fetch(self, start: int, end: int) -> Iterator[DeadLetter]:
        deadline = time.monotonic() + self._timeout
        following = start
        while True:
            # consume() waits until it has them all (or the timeout): ask for no more than
            # are left, so that the last ones come at once.
            wanted = max(1, min(_BATCH, end - following))
            messages = self._consumer.consume(num_messages=wanted, timeout=0.5)
            if messages:
                deadline = time.monotonic() + self._timeout  # progress: wait afresh
            for message in messages:
                error = message.error()
                if error is not None and error.code() == KafkaError._PARTITION_EOF:
                    return
                if error is not None:
                    raise DeadLettersUnavailable(f"cannot read {self.topic}: {error.str()}")
                letter = _letter(message)
                if letter.offset < start:  # left over from an earlier assignment
                    continue
                if letter.offset >= end:
                    return
                following = letter.offset + 1
                yield letter
                if following == end:
                    return
            if time.monotonic() > deadline:
                raise DeadLettersUnavailable(
                    f"cannot read {self.topic}: no answer within {self._timeout:.0f}s"
                )


def _letter(message: Message) -> DeadLetter:
    kind, timestamp = message.timestamp()
    headers = read_raw_headers(message)
    if headers.unread:
        # Without its dlq.* headers a stub would read as an original and be replayable:
        # refuse to read rather than guess.
        raise DeadLettersUnavailable(
            "cannot read dead-letter headers with this confluent-kafka version "
            "(unknown Message layout): no dead letter is shown or replayed"
        )
    return parse(
        offset=int(message.offset() or 0),
        timestamp_ms=timestamp if kind else None,
        key=message.key(),
        value=message.value() or b"",
        # As bytes, whatever names a writer gave them (never Message.headers()).
        headers=headers.pairs,
    )
