"""A fetched record's headers as bytes, read without the Python client's UTF-8 conversion.

``confluent_kafka.Message.headers()`` decodes each header name as UTF-8 in C and does not
handle a name that is not: it raises ``SystemError`` or returns a list with a hole in it and
an exception left pending (reproduced with librdkafka 2.16 / confluent-kafka 2.16), and the
next call on that message reads the hole and crashes the process. Go clients, kcat and
librdkafka's C API can send such names. So the consumer never calls it: this module reads
the header list librdkafka keeps for the message (the ``c_headers`` field of the client's
``Message`` object) with librdkafka's own ``rd_kafka_header_get_all``, from the very library
the client loaded.

Reading a field of the client's object depends on its C layout. The layout is checked
against the live object the first time (its size, and that the topic, value and key fields
hold the objects ``topic()``, ``value()`` and ``key()`` return); if it ever differs (a
client upgrade that changed it, which ``tests/integration/test_raw_headers.py`` would show
first), headers are not read at all and every record says so, rather than risk the crash.
"""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path

import attrs
import confluent_kafka
from confluent_kafka import Message

from adapters.kafka.client.records import Headers

log = logging.getLogger(__name__)

# confluent_kafka.h, struct Message (2.x): PyObject_HEAD, then topic, value, key, headers,
# c_headers, error (pointers), partition, offset, leader_epoch, timestamp, tstype, latency.
_POINTER = ctypes.sizeof(ctypes.c_void_p)
# Later fields come and go between versions (2.16 added one at the end); these lead.
_TOPIC, _VALUE, _KEY = 2 * _POINTER, 3 * _POINTER, 4 * _POINTER
_HEADERS, _C_HEADERS = 5 * _POINTER, 6 * _POINTER
_LEADING_SIZE = 8 * _POINTER  # PyObject_HEAD (two words) and the six pointers


@attrs.frozen
class RawHeaders:
    """A record's headers: the readable pairs, and how many could not be kept."""

    pairs: Headers
    dropped: int = 0  # headers whose name is not UTF-8
    unread: bool = False  # the layout check failed: nothing was read

    def note(self) -> str:
        """What a dead letter's reason says about the headers ("" when all were kept)."""
        if self.unread:
            return "; its headers were not read (unknown confluent-kafka Message layout)"
        if self.dropped:
            return f"; {self.dropped} header(s) whose name is not UTF-8 were not kept"
        return ""


class _Librdkafka:
    def __init__(self) -> None:
        bundled = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
        found = sorted(bundled.glob("librdkafka*.so*"))
        # The wheel's bundled library, already loaded by the client (dlopen returns it);
        # a client built against the system's librdkafka uses that one.
        self.lib = ctypes.CDLL(str(found[0]) if found else "librdkafka.so.1")
        get_all = self.lib.rd_kafka_header_get_all
        get_all.restype = ctypes.c_int
        get_all.argtypes = (
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_size_t),
        )
        self.get_all = get_all


_library: _Librdkafka | None = None
_layout_ok: bool | None = None


def _pointer_at(message: Message, offset: int) -> int:
    return ctypes.c_void_p.from_address(id(message) + offset).value or 0


def _check_layout(message: Message) -> bool:
    if type(message).__basicsize__ < _LEADING_SIZE:
        return False
    topic, value, key = message.topic(), message.value(), message.key()
    if topic is None or _pointer_at(message, _TOPIC) != id(topic):
        return False
    if value is not None and _pointer_at(message, _VALUE) != id(value):
        return False
    return key is None or _pointer_at(message, _KEY) == id(key)


def layout_known(message: Message) -> bool:
    """Whether this client's Message layout is the one this module reads (checked once)."""
    global _layout_ok, _library  # noqa: PLW0603 - one check and one library per process
    if _layout_ok is None:
        _layout_ok = _check_layout(message)
        if _layout_ok:
            _library = _Librdkafka()
        else:
            log.error(
                "confluent-kafka %s: unknown Message layout, record headers will not be read",
                confluent_kafka.version()[0],
            )
    return _layout_ok


def read_raw_headers(message: Message) -> RawHeaders:
    """The headers of a fetched record, names decoded here (a name that is not UTF-8 is
    dropped and counted), values as bytes (an absent value as empty bytes)."""
    if message.topic() is None or not layout_known(message):
        return RawHeaders((), unread=message.topic() is not None)
    if _pointer_at(message, _HEADERS):
        # Converted already by a call of headers() elsewhere, so they were readable.
        return RawHeaders(_as_pairs(message.headers() or []))
    c_headers = _pointer_at(message, _C_HEADERS)
    if not c_headers:
        return RawHeaders(())
    assert _library is not None
    name, value, size = ctypes.c_char_p(), ctypes.c_void_p(), ctypes.c_size_t()
    pairs: list[tuple[str, bytes]] = []
    dropped = 0
    index = 0
    while not _library.get_all(c_headers, index, name, value, size):
        index += 1
        try:
            text = (name.value or b"").decode()
        except UnicodeDecodeError:
            dropped += 1
            continue
        data = b"" if not value.value else ctypes.string_at(value.value, size.value)
        pairs.append((text, data))
    return RawHeaders(tuple(pairs), dropped)


def _as_pairs(raw: object) -> Headers:
    pairs = raw.items() if isinstance(raw, dict) else raw
    return tuple(
        (str(name), value.encode() if isinstance(value, str) else value or b"")
        for name, value in pairs  # type: ignore[attr-defined]
    )
