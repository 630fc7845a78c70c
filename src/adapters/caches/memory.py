"""An in-process OrderCache: a bounded LRU for one instance, unit tests and demos.

Nothing is shared between processes; use Memcached or Redis when several instances
must see the same cache.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from adapters.caches.limits import DEFAULT_MAX_VALUE_BYTES, check_ttl
from order_core.errors import CacheUnavailable
from order_core.schema import MAX_ORDER_UID_LENGTH

# Counted for every entry on top of key and value, so many tiny entries (the "absent"
# markers are empty) still meet the byte bound; roughly what the dict slot, the tuple and
# the two objects cost.
ENTRY_OVERHEAD_BYTES = 64
DEFAULT_MAX_ENTRIES = 100_000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class _Entry(NamedTuple):
    value: bytes
    expires_at: float  # math.inf: never


class InMemoryOrderCache:
    """A thread-safe LRU bounded by entry count and by bytes, with optional expiry.

    Bounds: at most ``max_entries`` entries and ``size_bytes <= max_bytes``, where an entry
    counts ``len(key) + len(value) + ENTRY_OVERHEAD_BYTES``; the least recently used
    entries go first. An entry too large to fit at all is not stored, and whatever its key
    held before is dropped, so an older value never outlives a newer write.

    Expiry: ``ttl`` (or ``default_ttl`` when the ttl is None) in seconds of ``clock``;
    expired entries are never returned, and are removed when read or evicted.
    """

    backend = "memory"
    local = True

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        default_ttl: float | None = None,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        # A value of max_value_bytes under the longest valid key must fit in an empty cache.
        largest_value = max_bytes - ENTRY_OVERHEAD_BYTES - MAX_ORDER_UID_LENGTH
        if largest_value < 1:
            raise ValueError(f"max_bytes must exceed {ENTRY_OVERHEAD_BYTES + MAX_ORDER_UID_LENGTH}")
        if max_value_bytes < 1:
            raise ValueError("max_value_bytes must be positive")
        check_ttl(default_ttl)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_value_bytes = min(max_value_bytes, largest_value)
        self.default_ttl = default_ttl
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._size_bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Entries held, counting expired ones not yet removed."""
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """Bytes held by the entries, as counted against ``max_bytes``."""
        return self._size_bytes

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires_at <= self._clock():
                self._remove(key)
                return None
            self._entries.move_to_end(key)
            return entry.value

    def peek(self, key: str) -> bytes | None:
        """Everything is in process memory here: ``get`` without its failures."""
        try:
            return self.get(key)
        except CacheUnavailable:
            return None

    def set_many(self, entries: Mapping[str, bytes], ttl: float | None = None) -> None:
        check_ttl(ttl)
        with self._lock:
            expires_at = self._expires_at(ttl)
            for key, value in entries.items():
                self._remove(key)
                self._insert(key, value, expires_at)

    def add(self, key: str, value: bytes, ttl: float | None = None) -> None:
        check_ttl(ttl)
        with self._lock:
            now = self._clock()
            entry = self._entries.get(key)
            if entry is not None:
                if entry.expires_at > now:
                    return
                self._remove(key)
            self._insert(key, value, self._expires_at(ttl, now))

    def delete_many(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._remove(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size_bytes = 0

    def _expires_at(self, ttl: float | None, now: float | None = None) -> float:
        ttl = self.default_ttl if ttl is None else ttl
        if ttl is None:
            return math.inf
        return (self._clock() if now is None else now) + ttl

    def _insert(self, key: str, value: bytes, expires_at: float) -> None:
        # Called with the lock held and the key absent.
        size = _entry_size(key, value)
        if size > self.max_bytes:
            return
        self._entries[key] = _Entry(value, expires_at)
        self._size_bytes += size
        while len(self._entries) > self.max_entries or self._size_bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._remove(oldest)

    def _remove(self, key: str) -> None:
        # Called with the lock held.
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._size_bytes -= _entry_size(key, entry.value)


def _entry_size(key: str, value: bytes) -> int:
    return len(key) + len(value) + ENTRY_OVERHEAD_BYTES
