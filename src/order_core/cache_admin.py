"""Cache warm-up and reset. Neither can lose data: the repository holds every order."""

from __future__ import annotations

from order_core.cache_writer import CacheWriter
from order_core.ports import OrderRepository

DEFAULT_WARM_UP_ORDERS = 10_000
DEFAULT_WARM_UP_BATCH = 500


class CacheAdmin:
    def __init__(self, repository: OrderRepository, cache_writer: CacheWriter) -> None:
        self._repository = repository
        self._writer = cache_writer

    def warm_up(
        self, limit: int = DEFAULT_WARM_UP_ORDERS, batch_size: int = DEFAULT_WARM_UP_BATCH
    ) -> int:
        """Load the ``limit`` most recent orders into the cache; return how many were loaded.

        Raises CacheUnavailable if the cache fails (the caller decides whether that matters).
        """
        loaded = 0
        for batch in self._repository.recent_documents(limit, batch_size):
            small = {k: v for k, v in batch.items() if len(v) <= self._writer.cache.max_value_bytes}
            self._writer.cache.set_many(small)
            loaded += len(small)
        return loaded

    def reset(self) -> None:
        """Drop every cached entry; later lookups refill from the repository."""
        self._writer.cache.clear()
