"""A shared cache with a bounded in-process copy of the orders it has served.

Orders never change once stored, so a copy of a document can never be stale: only
positive entries (documents) are kept near; "absent" entries stay in the shared cache
alone, with their short ttl, so a new order becomes visible as before. A reset clears this
process's copy and the shared cache; other processes' copies can only hold orders that
exist, so nothing wrong can be served.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from adapters.caches.memory import InMemoryOrderCache
from order_core.ports import OrderCache


class NearCachedOrderCache:
    """Implements order_core.ports.OrderCache over a shared cache and a local LRU."""

    def __init__(self, shared: OrderCache, near: InMemoryOrderCache) -> None:
        self.shared = shared
        self.near = near
        self.backend = shared.backend
        self.max_value_bytes = shared.max_value_bytes
        self.local = False

    def peek(self, key: str) -> bytes | None:
        return self.near.peek(key)

    def get(self, key: str) -> bytes | None:
        value = self.near.get(key)
        if value is not None:
            return value
        value = self.shared.get(key)
        if value:  # a document, not "absent"
            self.near.set_many({key: value})
        return value

    def set_many(self, entries: Mapping[str, bytes], ttl: float | None = None) -> None:
        self.shared.set_many(entries, ttl)
        self.near.set_many({k: v for k, v in entries.items() if v}, ttl)

    def add(self, key: str, value: bytes, ttl: float | None = None) -> None:
        # Not copied near: the shared cache may have kept what it held, and the next get
        # brings that near.
        self.shared.add(key, value, ttl)

    def delete_many(self, keys: Sequence[str]) -> None:
        self.shared.delete_many(keys)
        self.near.delete_many(keys)

    def clear(self) -> None:
        self.near.clear()
        self.shared.clear()
