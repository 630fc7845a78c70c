"""The dead-letter record format: the one place that knows its header names.

A dead letter is the original message (key, value, headers) plus ``dlq.*`` headers: the
format version, the reason (capped), the source topic, partition, offset and timestamp,
and the SHA-256 of the original value. A record too large for the broker (the original
near the size limit, or the dead-letter topic's limit lower than the source's) is replaced
by a stub: the same ``dlq.*`` headers and a small JSON value saying so, without the
original bytes.

``parse`` is the inverse: the ``dlq.*`` headers become a ``DeadLetter``'s fields, the other
headers are the original's. ``replay_record`` turns one back into the message it was, with
a ``dlq.replay-of`` header naming its dead letter: ``PARTITION:OFFSET``, or the offset alone
for partition 0 (what every version wrote before the dead-letter topic could have more
partitions, so a bare offset still reads as partition 0's). The consumer carries that
header into the new dead letter if the replay fails again, so a chain of attempts can be
followed.

Versions: ``dlq.format`` is ``1``; records written before the header existed have the
same layout and read as version 1. A record of a newer version than this code writes is
read for the fields it knows and is not replayed (a newer version may mean something this
one cannot tell): replay it with the version that wrote it.
"""

from __future__ import annotations

import hashlib
import re

import attrs
import orjson

from adapters.kafka.client.records import Headers, Record
from order_core import DeadLetter, DeadLetterId, stub_refusal

FORMAT_VERSION = 1
UNREADABLE_FORMAT = -1  # a dlq.format header that is not a version number

PREFIX = "dlq."
FORMAT = "dlq.format"
REASON = "dlq.reason"
TOPIC = "dlq.topic"
PARTITION = "dlq.partition"
OFFSET = "dlq.offset"
TIMESTAMP = "dlq.timestamp"
SHA256 = "dlq.sha256"
STUB = "dlq.stub"
REPLAY_OF = "dlq.replay-of"

MAX_REASON_BYTES = 4096
MAX_STUB_KEY_BYTES = 1024
LAST_RESORT_REASON_BYTES = 256
DEFAULT_MAX_RECORD_BYTES = 1_000_000  # the broker's default message.max.bytes, less headroom
# dlq.replay-of: OFFSET (partition 0) or PARTITION:OFFSET, each a whole number of Kafka's range.
_REPLAY_OF = re.compile(rb"(?:([0-9]{1,10}):)?([0-9]{1,19})")


class CannotReplay(ValueError):
    """The dead letter holds no original this version can replay (a stub, or a record of
    a newer format)."""


@attrs.frozen
class Source:
    """Where a dead letter came from: the original message and its coordinates."""

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
        (FORMAT, str(FORMAT_VERSION).encode()),
        (REASON, cap_reason(reason)),
        (TOPIC, source.topic.encode()),
        (PARTITION, str(source.partition).encode()),
        (OFFSET, str(source.offset).encode()),
        (SHA256, hashlib.sha256(source.value).hexdigest().encode()),
    ]
    if source.timestamp_ms is not None:
        headers.append((TIMESTAMP, str(source.timestamp_ms).encode()))
    if stub:
        headers.append((STUB, b"true"))
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
    # A replay names its dead letter (a few digits); anything else is dropped.
    replay = tuple(
        (name, data)
        for name, data in source.headers
        if name == REPLAY_OF and replay_of(data) is not None
    )
    return Record(key, orjson.dumps(body), _dlq_headers(source, reason, True) + replay[:1])


def _int(value: bytes | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode(errors="replace")


def replay_of(value: bytes | None) -> DeadLetterId | None:
    """The dead letter a ``dlq.replay-of`` header names; None for anything else."""
    found = None if value is None else _REPLAY_OF.fullmatch(value)
    if found is None:
        return None
    partition, offset = found.groups()
    return DeadLetterId(int(partition or 0), int(offset))


def replay_of_header(letter: DeadLetterId) -> bytes:
    """The ``dlq.replay-of`` value naming a dead letter (the offset alone on partition 0,
    as every earlier version wrote it)."""
    if letter.partition == 0:
        return b"%d" % letter.offset
    return b"%d:%d" % (letter.partition, letter.offset)


def parse(
    offset: int,
    timestamp_ms: int | None,
    key: bytes | None,
    value: bytes,
    headers: Headers,
    *,
    partition: int = 0,
) -> DeadLetter:
    """The dead letter a record of the dead-letter topic holds, at ``partition`` and
    ``offset`` of that topic.

    The service's own ``dlq.*`` headers come first, so the first of each name is the one
    read; any ``dlq.*`` header of the original (a ``dlq.replay-of``) is not the original's.
    """
    dlq: dict[str, bytes] = {}
    for name, data in headers:
        if name.startswith(PREFIX):
            dlq.setdefault(name, data)
    return DeadLetter(
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp_ms,
        reason=_text(dlq.get(REASON)) or "",
        source_topic=_text(dlq.get(TOPIC)),
        source_partition=_int(dlq.get(PARTITION)),
        source_offset=_int(dlq.get(OFFSET)),
        source_timestamp_ms=_int(dlq.get(TIMESTAMP)),
        sha256=_text(dlq.get(SHA256)),
        stub=dlq.get(STUB) == b"true",
        replay_of=replay_of(dlq.get(REPLAY_OF)),
        key=key,
        value=value,
        headers=tuple((n, v) for n, v in headers if not n.startswith(PREFIX)),
        format_version=_version(dlq.get(FORMAT)),
    )


def _version(value: bytes | None) -> int:
    """The record's format version: 1 without the header (records written before it
    existed have version 1's layout), ``UNREADABLE_FORMAT`` for anything but a positive
    whole number (never taken for a version this code knows)."""
    if value is None:
        return 1
    if not (value.isascii() and value.isdigit() and len(value) <= 9) or int(value) < 1:
        return UNREADABLE_FORMAT
    return int(value)


def replay_refusal(letter: DeadLetter) -> str | None:
    """Why this version cannot replay the letter, or None when it can."""
    if letter.format_version == UNREADABLE_FORMAT:
        return (
            f"dead letter {letter.id} carries a {FORMAT} header that is not a version "
            "number: it was not written by order-service, or was altered; not replayed"
        )
    if letter.format_version > FORMAT_VERSION:
        return (
            f"dead letter {letter.id} is in dead-letter format {letter.format_version}, "
            f"newer than this version's {FORMAT_VERSION}: replay it with the version that "
            "wrote it"
        )
    if letter.stub:
        return stub_refusal(letter)
    return None


def replay_record(letter: DeadLetter) -> Record:
    """The original message again, marked as a replay of this dead letter."""
    if (refusal := replay_refusal(letter)) is not None:
        raise CannotReplay(refusal)
    return Record(
        letter.key, letter.value, (*letter.headers, (REPLAY_OF, replay_of_header(letter.id)))
    )
