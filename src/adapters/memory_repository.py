"""An in-memory order repository: for unit tests, demos and library users without a database."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from order_core.errors import RepositoryUnavailable
from order_core.ports import EncodedOrder


class InMemoryOrderRepository:
    """Keeps documents in insertion order. ``available = False`` simulates an outage."""

    def __init__(self) -> None:
        self._documents: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.available = True

    def save_many(self, orders: Sequence[EncodedOrder]) -> set[str]:
        self._check()
        inserted: set[str] = set()
        with self._lock:
            for encoded in orders:
                if encoded.order_uid not in self._documents:
                    self._documents[encoded.order_uid] = encoded.document
                    inserted.add(encoded.order_uid)
        return inserted

    def get_document(self, order_uid: str) -> bytes | None:
        self._check()
        return self._documents.get(order_uid)

    def recent_documents(self, limit: int, batch_size: int) -> Iterator[dict[str, bytes]]:
        self._check()
        with self._lock:
            newest = list(self._documents.items())[::-1][:limit]
        for start in range(0, len(newest), batch_size):
            yield dict(newest[start : start + batch_size])

    def __len__(self) -> int:
        return len(self._documents)

    def _check(self) -> None:
        if not self.available:
            raise RepositoryUnavailable("in-memory repository switched off")
