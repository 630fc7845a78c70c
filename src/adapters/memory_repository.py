"""An in-memory order repository: for unit tests, demos and library users without a database."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence

import msgspec

from order_core.ports import EncodedOrder, SavedDocument, SaveResult


def same_json(a: bytes, b: bytes) -> bool:
    """Whether two JSON documents hold the same value (as PostgreSQL's jsonb compares)."""
    return a == b or msgspec.json.decode(a) == msgspec.json.decode(b)


class InMemoryOrderRepository:
    """Keeps documents in insertion order, with the same contract as the PostgreSQL one."""

    def __init__(self) -> None:
        self._documents: dict[str, bytes] = {}
        # Per order: its position (the save order, from 1) and its customer.
        self._positions: dict[str, tuple[int, str]] = {}
        self._last_position = 0  # positions only grow: a removed order's is never reused
        self._lock = threading.Lock()

    def save_many(self, orders: Sequence[EncodedOrder]) -> SaveResult:
        inserted: set[str] = set()
        conflicting: dict[str, str] = {}
        with self._lock:
            for encoded in orders:
                stored = self._documents.get(encoded.order_uid)
                if stored is None:
                    self._documents[encoded.order_uid] = encoded.document
                    self._last_position += 1
                    position = self._last_position
                    self._positions[encoded.order_uid] = (position, encoded.order.customer_id)
                    inserted.add(encoded.order_uid)
                elif not same_json(stored, encoded.document):
                    conflicting[encoded.order_uid] = hashlib.sha256(stored).hexdigest()
        return SaveResult(frozenset(inserted), conflicting)

    def get_document(self, order_uid: str) -> bytes | None:
        return self._documents.get(order_uid)

    def remove_many(self, order_uids: Sequence[str]) -> frozenset[str]:
        with self._lock:
            removed = frozenset(uid for uid in order_uids if uid in self._documents)
            for uid in removed:
                del self._documents[uid]
                del self._positions[uid]
        return removed

    def recent_documents(self, limit: int, batch_size: int) -> Iterator[dict[str, bytes]]:
        with self._lock:
            newest = list(self._documents.items())[::-1][:limit]
        for start in range(0, len(newest), batch_size):
            yield dict(newest[start : start + batch_size])

    def customer_documents(
        self, customer_id: str, limit: int, before: int | None = None
    ) -> list[SavedDocument]:
        with self._lock:
            found = [
                SavedDocument(position, self._documents[uid])
                for uid, (position, customer) in reversed(self._positions.items())
                if customer == customer_id and (before is None or position < before)
            ]
        return found[:limit]

    def ping(self) -> None:
        """Always answers: it lives in this process."""

    def __len__(self) -> int:
        return len(self._documents)
