"""Writes to the cache after the repository has committed, and repairs failed writes.

A failed cache write must not leave a wrong answer behind: if the cache said "absent" for
an order that has just been saved, that entry has to go. Keys whose write failed are kept
(bounded) and invalidated at the next chance, before the cache is read again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping

from order_core.errors import CacheUnavailable
from order_core.ports import NoTelemetry, OrderCache, Telemetry

log = logging.getLogger(__name__)

MAX_PENDING_KEYS = 100_000


class CacheWriter:
    """The one place that writes orders to the cache; shared by ingest and lookups."""

    def __init__(self, cache: OrderCache, telemetry: Telemetry | None = None) -> None:
        self.cache = cache
        self._telemetry = telemetry or NoTelemetry()
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._pending_overflow = False

    def store(self, documents: Mapping[str, bytes], stale: Iterable[str] = ()) -> bool:
        """Cache saved documents and drop entries that may be stale; False if the cache failed."""
        small = {k: v for k, v in documents.items() if len(v) <= self.cache.max_value_bytes}
        # Too large to cache: make sure no older entry (such as "absent") stays behind.
        drop = [*stale, *(k for k in documents if k not in small)]
        if not self.repair():
            self._remember(documents.keys(), drop)
            return False
        try:
            if small:
                self.cache.set_many(small)
            if drop:
                self.cache.delete_many(drop)
        except CacheUnavailable as exc:
            self._failed("write", exc)
            self._remember(documents.keys(), drop)
            return False
        return True

    def repair(self) -> bool:
        """Invalidate keys whose earlier write failed. True when nothing is left to repair."""
        with self._lock:
            if self._pending_overflow:
                keys: list[str] | None = None
            elif self._pending:
                keys = list(self._pending)
            else:
                return True
        try:
            if keys is None:
                self.cache.clear()  # too many to track: drop everything, lose nothing
            else:
                self.cache.delete_many(keys)
        except CacheUnavailable as exc:
            self._failed("repair", exc)
            return False
        with self._lock:
            if keys is None:
                self._pending_overflow = False
                self._pending.clear()
            else:
                self._pending.difference_update(keys)
        log.info("cache repaired", extra={"keys": "all" if keys is None else len(keys)})
        return True

    def _remember(self, *key_groups: Iterable[str]) -> None:
        with self._lock:
            for keys in key_groups:
                self._pending.update(keys)
            if len(self._pending) > MAX_PENDING_KEYS:
                self._pending.clear()
                self._pending_overflow = True

    def _failed(self, what: str, exc: Exception) -> None:
        self._telemetry.count("cache_errors")
        log.warning("cache %s failed: %s", what, exc, extra={"backend": self.cache.backend})
