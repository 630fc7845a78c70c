"""Fakes for the unit tests: the shipped in-memory adapters with the switches a test needs
to make them fail (an outage, a refusal) the way a real backend does."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from adapters.caches.memory import InMemoryOrderCache
from adapters.memory_repository import InMemoryOrderRepository
from order_core import (
    CacheUnavailable,
    EncodedOrder,
    RejectedByRepository,
    RepositoryUnavailable,
    SavedDocument,
    SaveResult,
)


class FakeCache(InMemoryOrderCache):
    """``failing = True`` makes every call that would reach a server raise
    CacheUnavailable, as a cache that is down does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failing = False

    def _check(self) -> None:
        if self.failing:
            raise CacheUnavailable("in-memory cache set to fail")

    def get(self, key: str) -> bytes | None:
        self._check()
        return super().get(key)

    def set_many(self, entries: Mapping[str, bytes], ttl: float | None = None) -> None:
        self._check()
        super().set_many(entries, ttl)

    def add(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self._check()
        super().add(key, value, ttl)

    def delete_many(self, keys: Sequence[str]) -> None:
        self._check()
        super().delete_many(keys)

    def clear(self) -> None:
        self._check()
        super().clear()


class FakeRepository(InMemoryOrderRepository):
    """``available = False`` is an outage (RepositoryUnavailable); ``failure`` is raised by
    every call when set (e.g. RepositoryFailed); ``refuses`` names the orders the store
    refuses as data (RejectedByRepository for the whole batch, as a database transaction
    would); ``saves`` counts the transactions attempted (bisection steps)."""

    def __init__(self) -> None:
        super().__init__()
        self.available = True
        self.failure: Exception | None = None
        self.refuses: Callable[[EncodedOrder], bool] = lambda _order: False
        self.refusal_reason: Callable[[EncodedOrder], str] = lambda o: f"refused {o.order_uid}"
        self.saves = 0

    def _check(self) -> None:
        if self.failure is not None:
            raise self.failure
        if not self.available:
            raise RepositoryUnavailable("in-memory repository switched off")

    def save_many(self, orders: Sequence[EncodedOrder]) -> SaveResult:
        self._check()
        self.saves += 1
        refused = [o for o in orders if self.refuses(o)]
        if refused:
            raise RejectedByRepository(self.refusal_reason(refused[0]))
        return super().save_many(orders)

    def get_document(self, order_uid: str) -> bytes | None:
        self._check()
        return super().get_document(order_uid)

    def remove_many(self, order_uids: Sequence[str]) -> frozenset[str]:
        self._check()
        return super().remove_many(order_uids)

    def recent_documents(self, limit: int, batch_size: int) -> Iterator[dict[str, bytes]]:
        self._check()
        return super().recent_documents(limit, batch_size)

    def customer_documents(
        self, customer_id: str, limit: int, before: int | None = None
    ) -> list[SavedDocument]:
        self._check()
        return super().customer_documents(customer_id, limit, before)

    def ping(self) -> None:
        self._check()
