"""The ports: what the core needs from the outside world, each with its contract.

Adapters implement these Protocols (PostgreSQL, Memcached, Redis, in-memory); the core
depends only on them. Each contract is checked by a shared test suite run against every
implementation (tests/contracts).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Protocol

import attrs

from order_core.dead_letters import DeadLetter
from order_core.model import Order


@attrs.frozen
class EncodedOrder:
    """An order together with its canonical JSON document, encoded once."""

    order: Order
    document: bytes

    @property
    def order_uid(self) -> str:
        return self.order.order_uid


@attrs.frozen
class SaveResult:
    """What a batch save did: the orders it inserted, and those it found already stored
    with a different document (a conflict: the stored one is kept), each with the SHA-256
    (hex) of the stored document. An order stored with the same document is in neither."""

    inserted: frozenset[str]
    conflicting: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class SavedDocument:
    """A stored order's document and its position: a number unique over all orders that
    grows with the save order (a later save has a higher position; at least 1)."""

    position: int
    document: bytes


class OrderRepository(Protocol):
    """The source of truth for orders.

    Every method raises RepositoryUnavailable when the store cannot do the work now (down,
    failing over, overloaded: retry later), and RepositoryFailed when retrying cannot help
    (a missing table or privilege). ``save_many`` raises RejectedByRepository when the
    store refuses the data of some order in the batch. A failed ``save_many`` has saved
    nothing.
    """

    def save_many(self, orders: Sequence[EncodedOrder]) -> SaveResult:
        """Save a batch in one transaction: the order_uids newly inserted, and those
        already stored with a different document (compared as JSON values).

        Idempotent: an order_uid that is already stored is left as it was, neither
        duplicated nor an error. When this returns, the batch is durable.
        """
        ...

    def get_document(self, order_uid: str) -> bytes | None:
        """The stored JSON document of one order, or None when there is no such order."""
        ...

    def remove_many(self, order_uids: Sequence[str]) -> frozenset[str]:
        """Remove these orders, all of each (the order and everything stored with it), in
        one transaction; return those that were stored. Unknown ids are ignored."""
        ...

    def recent_documents(self, limit: int, batch_size: int) -> Iterator[dict[str, bytes]]:
        """The ``limit`` most recently saved orders, newest first, in batches."""
        ...

    def customer_documents(
        self, customer_id: str, limit: int, before: int | None = None
    ) -> list[SavedDocument]:
        """Up to ``limit`` orders whose customer_id is exactly ``customer_id``, newest
        (highest position) first; with ``before``, only those at positions below it.

        For keyset pagination: pass the last position of one page as ``before`` to get the
        next, which neither repeats nor skips an order, whatever is saved in between. An
        order keeps its position: saving it again does not move it.
        """
        ...

    def ping(self) -> None:
        """Return when the store answers now; raise as above otherwise."""
        ...


class OrderCache(Protocol):
    """A cache of JSON documents by order_uid, in front of the repository.

    Losing any entry, or all of them, loses no data. Every method raises CacheUnavailable
    when the backend fails. A ``ttl`` of None means the backend's configured default
    (no expiry unless one is configured). Keys are valid order ids.
    """

    backend: str
    max_value_bytes: int
    local: bool  # every entry lives in this process: ``get`` never blocks

    def get(self, key: str) -> bytes | None:
        """The cached value, or None on a miss."""
        ...

    def peek(self, key: str) -> bytes | None:
        """The value if this process holds it in memory, without blocking; None otherwise
        (then ask ``get``). Never raises."""
        ...

    def set_many(self, entries: Mapping[str, bytes], ttl: float | None = None) -> None:
        """Store every entry, replacing what was there."""
        ...

    def add(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store the entry only if the key holds nothing, so a read can't undo a write."""
        ...

    def delete_many(self, keys: Sequence[str]) -> None:
        """Drop these entries; keys that are not cached are ignored."""
        ...

    def clear(self) -> None:
        """Drop every entry of this cache."""
        ...


class Telemetry(Protocol):
    """Counts what happens in the core (cache hits, saves, rejections) and reports states
    (a circuit open or closed) for metrics. Unknown names are ignored."""

    def count(self, event: str, amount: int = 1) -> None: ...

    def gauge(self, name: str, value: float) -> None: ...


class NoTelemetry:
    """Counts nothing: the default for library users who do not export metrics."""

    def count(self, event: str, amount: int = 1) -> None:
        return None

    def gauge(self, name: str, value: float) -> None:
        return None


class DeadLetterArchive(Protocol):
    """Where dead letters are kept: in one or more partitions, each read by offset, oldest
    first. A dead letter is named by both (``DeadLetter.id``); whatever spans partitions
    comes merged by time (``order_core.dead_letters.merged_by_time``: by timestamp, then
    partition, then offset), a partition's own order always kept.

    Every read is bounded: in time (raises DeadLettersUnavailable when they cannot be read
    now) and in memory (a merge holds a chunk per partition, never a whole partition).
    Opened per use (a reader holds a connection of its own): ``close`` it, or use it as a
    context manager.
    """

    name: str  # where they are kept, for an operator (the topic)

    def partitions(self) -> tuple[int, ...]:
        """The partitions, in order; () when there is nowhere they were ever kept."""
        ...

    def bounds(self, partition: int) -> tuple[int, int]:
        """The partition's first offset still kept and the next to be written; (0, 0) when
        it never kept any (or there is no such partition)."""
        ...

    def read(self, partition: int, start: int, end: int) -> Iterator[DeadLetter]:
        """The partition's dead letters at offsets ``start`` to ``end - 1`` still kept, in
        order."""
        ...

    def read_merged(self, ranges: Mapping[int, tuple[int, int]]) -> Iterator[DeadLetter]:
        """The dead letters in these ranges (partition -> ``(start, end)``, as ``read``),
        merged by time."""
        ...

    def latest(self, limit: int) -> list[DeadLetter]:
        """The newest ``limit`` across every partition, merged by time, oldest first (at
        most ``limit`` are read from the end of each partition)."""
        ...

    def at(self, partition: int, offset: int) -> DeadLetter | None: ...

    def since(self, timestamp_ms: int) -> Iterator[DeadLetter]:
        """Those dead-lettered at or after ``timestamp_ms`` (Unix ms), on every partition up
        to its end when the reading starts (those written meanwhile are not read), merged
        by time."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> DeadLetterArchive: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
