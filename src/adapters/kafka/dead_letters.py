"""Dead-letter records: the original message plus why it was set aside, always deliverable.

A record keeps the original key, value and headers and adds ``dlq.*`` headers: the reason
(capped), the source topic, partition, offset and timestamp, and the SHA-256 of the
original value. A record too large for the broker (the original near the size limit, or
the limit of the dead-letter topic lower than that of the source) is replaced by a stub: the
same ``dlq.*`` headers and a small JSON value saying so, without the original bytes.

A message replayed from the dead-letter topic carries ``dlq.replay-of`` (the dead-letter
offset it came from); if it fails again, its new dead letter keeps that header, stub or not.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

import attrs
import orjson

from adapters.kafka.publisher import KafkaPublisher, PublishFailed, PublishRefused
from adapters.kafka.records import Headers, Record

MAX_REASON_BYTES = 4096
MAX_STUB_KEY_BYTES = 1024
LAST_RESORT_REASON_BYTES = 256
DEFAULT_MAX_RECORD_BYTES = 1_000_000  # the broker's default message.max.bytes, less headroom
REPLAY_OF = "dlq.replay-of"


@attrs.frozen
class Source:
    """Where a dead letter came from."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes
    headers: Headers = ()


def cap_reason(reason: str, limit: int = MAX_REASON_BYTES) -> bytes:
    """The reason as UTF-8, cut at a character boundary to at most ``limit`` bytes."""
    data = reason.encode()
    if len(data) <= limit:
        return data
    return data[: limit - 3].decode(errors="ignore").encode() + "…".encode()


def _dlq_headers(source: Source, reason: str, stub: bool) -> Headers:
    headers = [
        ("dlq.reason", cap_reason(reason)),
        ("dlq.topic", source.topic.encode()),
        ("dlq.partition", str(source.partition).encode()),
        ("dlq.offset", str(source.offset).encode()),
        ("dlq.sha256", hashlib.sha256(source.value).hexdigest().encode()),
    ]
    if source.timestamp_ms is not None:
        headers.append(("dlq.timestamp", str(source.timestamp_ms).encode()))
    if stub:
        headers.append(("dlq.stub", b"true"))
    return tuple(headers)


def dead_letter(source: Source, reason: str, max_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Record:
    """The dead-letter record for ``source``: the original with dlq headers, or a stub
    when that would exceed ``max_bytes``."""
    record = Record(source.key, source.value, _dlq_headers(source, reason, False) + source.headers)
    return record if record.size <= max_bytes else stub(source, reason)


def stub(source: Source, reason: str, reason_bytes: int = MAX_REASON_BYTES) -> Record:
    """A small record standing in for one the broker cannot take: a few KB at most,
    whatever the original's key, value and headers weigh."""
    reason = cap_reason(reason, reason_bytes).decode()
    body: dict[str, object] = {
        "stub": True,
        "why": "the original is too large for the dead-letter topic",
        "original_bytes": len(source.value),
        "sha256": hashlib.sha256(source.value).hexdigest(),
        "topic": source.topic,
        "partition": source.partition,
        "offset": source.offset,
        "reason": reason,
    }
    key = source.key
    if key is not None and len(key) > MAX_STUB_KEY_BYTES:
        body["key_bytes"] = len(key)
        body["key_sha256"] = hashlib.sha256(key).hexdigest()
        key = None
    # A replay names its dead letter by offset: a digit string; anything else is dropped.
    replay = tuple(
        (name, data)
        for name, data in source.headers
        if name == REPLAY_OF and len(data) <= 20 and data.isdigit()
    )
    return Record(key, orjson.dumps(body), _dlq_headers(source, reason, True) + replay[:1])


REMEMBERED_LETTERS = 100_000


class DeadLetterPublisher:
    """Sends dead letters; a record the broker refuses as too large goes again as a stub.

    Raises PublishFailed (try again later) or PublishRefused for any other refusal (the
    topic is missing, access is denied: retrying cannot help). The source coordinates of
    the last ``REMEMBERED_LETTERS`` acknowledged dead letters are remembered, so a batch
    retried after some of its dead letters went through does not send those twice. (After
    a crash, a message whose offset was not committed is read again and its dead letter
    may be written twice: the readers show the coordinates, which say so.)
    """

    def __init__(
        self, publisher: KafkaPublisher, topic: str, max_bytes: int = DEFAULT_MAX_RECORD_BYTES
    ) -> None:
        self._publisher = publisher
        self.topic = topic
        self.max_bytes = max_bytes
        self._acknowledged: OrderedDict[tuple[str, int, int], None] = OrderedDict()

    def send(self, letters: Sequence[tuple[Source, str]]) -> int:
        fresh = [(s, r) for s, r in letters if _coordinates(s) not in self._acknowledged]
        sent = self._send(fresh)
        self._remember(fresh)
        return sent + len(letters) - len(fresh)

    def _remember(self, letters: Sequence[tuple[Source, str]]) -> None:
        for source, _ in letters:
            self._acknowledged[_coordinates(source)] = None
        while len(self._acknowledged) > REMEMBERED_LETTERS:
            self._acknowledged.popitem(last=False)

    def _send(self, letters: Sequence[tuple[Source, str]]) -> int:
        if not letters:
            return 0
        records = [dead_letter(source, reason, self.max_bytes) for source, reason in letters]
        try:
            return self._publisher.publish(self.topic, records)
        except PublishFailed as exc:
            self._remember([letters[i] for i in sorted(exc.delivered)])
            raise
        except PublishRefused as exc:
            if not exc.only_too_large:
                raise
            refused = list(exc.refused)
        # The topic's own limit is lower than ours: stubs, and if even those are too
        # large, stubs with a short reason; only a topic smaller than that refuses for good.
        try:
            return (
                len(records)
                - len(refused)
                + self._publisher.publish(self.topic, [stub(*letters[i]) for i in refused])
            )
        except PublishRefused as exc:
            if not exc.only_too_large:
                raise
            last = [stub(*letters[refused[i]], LAST_RESORT_REASON_BYTES) for i in exc.refused]
            return len(records) - len(last) + self._publisher.publish(self.topic, last)


def _coordinates(source: Source) -> tuple[str, int, int]:
    return source.topic, source.partition, source.offset
