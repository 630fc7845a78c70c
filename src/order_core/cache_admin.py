"""Cache warm-up and reset. Neither can lose data: the repository holds every order."""

from __future__ import annotations

from order_core.cache_gateway import CacheGateway
from order_core.ports import OrderRepository

DEFAULT_WARM_UP_ORDERS = 10_000
DEFAULT_WARM_UP_BATCH = 500


class CacheAdmin:
    def __init__(self, repository: OrderRepository, cache: CacheGateway) -> None:
        self._repository = repository
        self._cache = cache

    def warm_up(
        self, limit: int = DEFAULT_WARM_UP_ORDERS, batch_size: int = DEFAULT_WARM_UP_BATCH
    ) -> int:
        """Load the ``limit`` most recent orders into the cache; return how many were loaded.

        Raises CacheUnavailable if the cache fails (the caller decides whether that matters).
        """
        return sum(
            self._cache.warm(batch)
            for batch in self._repository.recent_documents(limit, batch_size)
        )

    def reset(self) -> None:
        """Drop every cached entry; later lookups refill from the repository."""
        self._cache.reset()
