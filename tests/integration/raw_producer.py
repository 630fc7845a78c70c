"""A Kafka producer that can send what the Python client cannot: header names that are not
UTF-8 (or hold NUL), through librdkafka's C API with ctypes.

confluent-kafka's ``Producer`` takes header names as ``str``, so it can only send valid
UTF-8 names; Go clients, kcat and librdkafka's C API send any bytes, and the consumer must
survive them. This drives the very librdkafka that confluent-kafka bundles
(``rd_kafka_produceva`` with a header list built by ``rd_kafka_header_add``, which takes
the name's length rather than a C string), so nothing is installed for it.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path

import attrs
import confluent_kafka

_VTYPE_TOPIC, _VTYPE_PARTITION, _VTYPE_VALUE, _VTYPE_KEY = 1, 3, 4, 5
_VTYPE_OPAQUE, _VTYPE_MSGFLAGS, _VTYPE_TIMESTAMP, _VTYPE_HEADERS = 6, 7, 8, 10
_MSG_F_COPY = 0x2
_PRODUCER = 0


class _Memory(ctypes.Structure):
    _fields_ = (("ptr", ctypes.c_void_p), ("size", ctypes.c_size_t))


class _Value(ctypes.Union):
    _fields_ = (
        ("cstr", ctypes.c_char_p),
        ("i", ctypes.c_int),
        ("i32", ctypes.c_int32),
        ("i64", ctypes.c_int64),
        ("mem", _Memory),
        ("ptr", ctypes.c_void_p),
        ("_pad", ctypes.c_char * 64),
    )


class _VU(ctypes.Structure):
    """rd_kafka_vu_t: one (type, value) argument of rd_kafka_produceva."""

    _fields_ = (("vtype", ctypes.c_int), ("u", _Value))


# void dr_msg_cb(rd_kafka_t *, const rd_kafka_message_t *, void *opaque); the message's first
# field is its error code and its last the per-message opaque.
_DeliveryCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


class _Message(ctypes.Structure):
    """The head of rd_kafka_message_t, as far as the delivery report reads it."""

    _fields_ = (
        ("err", ctypes.c_int),
        ("rkt", ctypes.c_void_p),
        ("partition", ctypes.c_int32),
        ("payload", ctypes.c_void_p),
        ("len", ctypes.c_size_t),
        ("key", ctypes.c_void_p),
        ("key_len", ctypes.c_size_t),
        ("offset", ctypes.c_int64),
        ("_private", ctypes.c_void_p),
    )


@attrs.frozen
class RawRecord:
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[bytes, bytes | None], ...] = ()
    timestamp_ms: int | None = None
    partition: int | None = None


@attrs.frozen
class Delivery:
    error: int  # librdkafka's error code: 0 when the broker took the record
    partition: int
    offset: int

    @property
    def ok(self) -> bool:
        return self.error == 0


def _library() -> ctypes.CDLL:
    bundled = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    found = sorted(bundled.glob("librdkafka*.so*"))
    if not found:
        raise RuntimeError(f"no librdkafka in {bundled}")
    lib = ctypes.CDLL(str(found[0]))
    lib.rd_kafka_conf_new.restype = ctypes.c_void_p
    lib.rd_kafka_conf_set.argtypes = (
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_size_t,
    )
    lib.rd_kafka_conf_set_dr_msg_cb.argtypes = (ctypes.c_void_p, _DeliveryCallback)
    lib.rd_kafka_new.restype = ctypes.c_void_p
    lib.rd_kafka_new.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t)
    lib.rd_kafka_headers_new.restype = ctypes.c_void_p
    lib.rd_kafka_headers_new.argtypes = (ctypes.c_size_t,)
    lib.rd_kafka_header_add.argtypes = (
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_ssize_t,
        ctypes.c_char_p,
        ctypes.c_ssize_t,
    )
    lib.rd_kafka_headers_destroy.argtypes = (ctypes.c_void_p,)
    lib.rd_kafka_produceva.restype = ctypes.c_void_p
    lib.rd_kafka_produceva.argtypes = (ctypes.c_void_p, ctypes.POINTER(_VU), ctypes.c_size_t)
    lib.rd_kafka_error_string.restype = ctypes.c_char_p
    lib.rd_kafka_error_string.argtypes = (ctypes.c_void_p,)
    lib.rd_kafka_error_destroy.argtypes = (ctypes.c_void_p,)
    lib.rd_kafka_flush.argtypes = (ctypes.c_void_p, ctypes.c_int)
    lib.rd_kafka_destroy.argtypes = (ctypes.c_void_p,)
    lib.rd_kafka_err2str.restype = ctypes.c_char_p
    return lib


class RawProducer:
    """Sends RawRecords and reports, per record, whether the broker took it."""

    def __init__(self, bootstrap: str) -> None:
        self._lib = _library()
        self._results: dict[int, Delivery] = {}
        self._callback = _DeliveryCallback(self._delivered)  # kept alive with the producer
        conf = self._lib.rd_kafka_conf_new()
        error = ctypes.create_string_buffer(512)
        for name, value in (("bootstrap.servers", bootstrap), ("linger.ms", "5")):
            if self._lib.rd_kafka_conf_set(conf, name.encode(), value.encode(), error, 512):
                raise RuntimeError(error.value.decode())
        self._lib.rd_kafka_conf_set_dr_msg_cb(conf, self._callback)
        self._rk = self._lib.rd_kafka_new(_PRODUCER, conf, error, 512)
        if not self._rk:
            raise RuntimeError(error.value.decode())

    def _delivered(self, _rk: int, message: int, _opaque: int) -> None:
        head = _Message.from_address(message)
        # The opaque of the record is rd_kafka_message_t._private: its index, plus one.
        self._results[int(head._private or 0) - 1] = Delivery(head.err, head.partition, head.offset)

    def send(
        self, topic: str, records: Sequence[RawRecord], timeout: float = 30.0
    ) -> list[Delivery]:
        """Produce every record; what the broker said of each."""
        self._results.clear()
        topic_name = ctypes.c_char_p(topic.encode())
        keep: list[object] = []  # buffers that must outlive produceva (it copies them)
        for index, record in enumerate(records):
            args = [
                _arg(_VTYPE_TOPIC, cstr=topic_name.value),
                _arg(_VTYPE_MSGFLAGS, i=_MSG_F_COPY),
                _arg(_VTYPE_OPAQUE, ptr=index + 1),
                _memory(_VTYPE_VALUE, record.value, keep),
            ]
            if record.key is not None:
                args.append(_memory(_VTYPE_KEY, record.key, keep))
            if record.partition is not None:
                args.append(_arg(_VTYPE_PARTITION, i32=record.partition))
            if record.timestamp_ms is not None:
                args.append(_arg(_VTYPE_TIMESTAMP, i64=record.timestamp_ms))
            headers = None
            if record.headers:
                headers = self._lib.rd_kafka_headers_new(len(record.headers))
                for name, value in record.headers:
                    size = -1 if value is None else len(value)
                    self._lib.rd_kafka_header_add(headers, name, len(name), value, size)
                args.append(_arg(_VTYPE_HEADERS, ptr=headers))
            vus = (_VU * len(args))(*args)
            failure = self._lib.rd_kafka_produceva(self._rk, vus, len(args))
            if failure:  # not queued: the headers are still ours to free
                reason = self._lib.rd_kafka_error_string(failure).decode()
                self._lib.rd_kafka_error_destroy(failure)
                if headers is not None:
                    self._lib.rd_kafka_headers_destroy(headers)
                raise RuntimeError(f"record {index} not queued: {reason}")
        remaining = self._lib.rd_kafka_flush(self._rk, int(timeout * 1000))
        if remaining:
            raise RuntimeError(f"flush timed out: error {remaining}")
        return [self._results.get(i, Delivery(-1, -1, -1)) for i in range(len(records))]

    def close(self) -> None:
        self._lib.rd_kafka_destroy(self._rk)


def _arg(vtype: int, **value: object) -> _VU:
    vu = _VU()
    vu.vtype = vtype
    for field, data in value.items():
        setattr(vu.u, field, data)
    return vu


def _memory(vtype: int, data: bytes | None, keep: list[object]) -> _VU:
    vu = _VU()
    vu.vtype = vtype
    if data is not None:
        buffer = ctypes.create_string_buffer(data, len(data))
        keep.append(buffer)
        vu.u.mem.ptr = ctypes.cast(buffer, ctypes.c_void_p)
    vu.u.mem.size = 0 if data is None else len(data)
    return vu
