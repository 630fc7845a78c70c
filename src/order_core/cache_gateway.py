"""The one way to the cache: every read and every write the core makes goes through here.

- Orders are written after the repository has committed them (``store``), or after a
  repository read (``fill``, add-if-absent, so a slow read cannot undo a newer write).
- A write that fails leaves its keys suspect: the cache is not trusted for them (a stale
  "absent" must not hide a saved order) until ``repair`` has invalidated them. Lookups
  never repair: they only skip the cache for a suspect key, at the cost of a set lookup.
- While the cache fails, a circuit breaker skips it, so a cache that hangs costs one
  timeout now and then, not one per call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping

from order_core.breaker import CircuitBreaker
from order_core.errors import CacheUnavailable
from order_core.ports import NoTelemetry, OrderCache, Telemetry

log = logging.getLogger(__name__)

# Cached in place of a document to remember that an id is unknown (documents are never empty).
ABSENT = b""
DEFAULT_NEGATIVE_TTL = 5.0
MAX_SUSPECT_KEYS = 100_000


class _Skipped(CacheUnavailable):
    """The breaker refused the call: the cache was not even asked."""


class CacheGateway:
    def __init__(
        self,
        cache: OrderCache,
        telemetry: Telemetry | None = None,
        *,
        negative_ttl: float = DEFAULT_NEGATIVE_TTL,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._cache = cache
        self._telemetry = telemetry or NoTelemetry()
        self._negative_ttl = negative_ttl
        self.breaker = breaker or CircuitBreaker("cache", telemetry=self._telemetry)
        self._lock = threading.Lock()
        self._suspect: set[str] = set()
        self._all_suspect = False  # too many to track: trust nothing until a clear
        self.writes = 0  # stores so far: a read started before one may miss its orders

    @property
    def backend(self) -> str:
        return self._cache.backend

    @property
    def local(self) -> bool:
        return self._cache.local

    # -- reads ------------------------------------------------------------------------------

    def peek(self, order_uid: str) -> bytes | None:
        """What this process holds in memory for the id (a document or ABSENT), never
        blocking; None when it does not know."""
        if self._is_suspect(order_uid):
            return None
        return self._cache.peek(order_uid)

    def read(self, order_uid: str) -> bytes | None:
        """The cache's entry (a document or ABSENT); None on a miss, a suspect key, a
        failure or while the circuit is open."""
        if self._is_suspect(order_uid) or not self.breaker.allow():
            return None
        try:
            value = self._cache.get(order_uid)
        except CacheUnavailable as exc:
            self._failed("read", exc)
            return None
        self.breaker.succeeded()
        return value

    # -- writes -----------------------------------------------------------------------------

    def store(self, documents: Mapping[str, bytes], stale: Iterable[str] = ()) -> bool:
        """Cache documents the repository has just committed and drop entries that may be
        stale; False (and the keys left suspect) if the cache failed."""
        self.writes += 1  # lookups from now on start reads of their own (see lookup.py)
        fits = {k: v for k, v in documents.items() if len(v) <= self._cache.max_value_bytes}
        # Too large to cache: make sure no older entry (such as "absent") stays behind.
        drop = [*stale, *(k for k in documents if k not in fits)]
        if not fits and not drop:
            return self.repair()
        if not self.repair():
            self._suspect_keys(documents.keys(), drop)
            return False
        try:
            self._guarded("write")
            if fits:
                self._cache.set_many(fits)
            if drop:
                self._cache.delete_many(drop)
        except CacheUnavailable as exc:
            self._failed("write", exc)
            self._suspect_keys(documents.keys(), drop)
            return False
        self.breaker.succeeded()
        return True

    def fill(self, order_uid: str, document: bytes | None) -> None:
        """After a repository read: cache the document, or remember the id as absent for
        the negative ttl. Add-if-absent; a failure is counted and otherwise ignored."""
        if self._is_suspect(order_uid):
            return
        if document is None:
            value, ttl = ABSENT, self._negative_ttl
            if ttl <= 0:
                return
        elif len(document) <= self._cache.max_value_bytes:
            value, ttl = document, None
        else:
            return  # too large to cache: no call, so no circuit trial spent on nothing
        try:
            self._guarded("fill")
            self._cache.add(order_uid, value, ttl)
        except CacheUnavailable as exc:
            self._failed("fill", exc)
            return
        self.breaker.succeeded()

    def warm(self, documents: Mapping[str, bytes]) -> int:
        """Cache saved documents (warm-up); how many were cached. Raises CacheUnavailable."""
        fits = {k: v for k, v in documents.items() if len(v) <= self._cache.max_value_bytes}
        self._cache.set_many(fits)
        return len(fits)

    def reset(self) -> None:
        """Drop every entry. Raises CacheUnavailable. Nothing is suspect after it."""
        self._cache.clear()
        with self._lock:
            self._suspect.clear()
            self._all_suspect = False

    def repair(self) -> bool:
        """Invalidate the suspect keys; True when none is left."""
        with self._lock:
            if self._all_suspect:
                keys: list[str] | None = None
            elif self._suspect:
                keys = list(self._suspect)
            else:
                return True
        try:
            self._guarded("repair")
            if keys is None:
                self._cache.clear()
            else:
                self._cache.delete_many(keys)
        except CacheUnavailable as exc:
            self._failed("repair", exc)
            return False
        self.breaker.succeeded()
        with self._lock:
            if keys is None:
                self._all_suspect = False
                self._suspect.clear()
            else:
                self._suspect.difference_update(keys)
        log.info("cache repaired", extra={"keys": "all" if keys is None else len(keys)})
        return True

    @property
    def suspect_keys(self) -> int:
        """How many keys wait for a repair (-1: too many to track, all of them)."""
        return -1 if self._all_suspect else len(self._suspect)

    # -- helpers ----------------------------------------------------------------------------

    def _is_suspect(self, order_uid: str) -> bool:
        return self._all_suspect or (bool(self._suspect) and order_uid in self._suspect)

    def _guarded(self, what: str) -> None:
        if not self.breaker.allow():
            raise _Skipped(f"cache {what} skipped: the circuit is open")

    def _suspect_keys(self, *key_groups: Iterable[str]) -> None:
        with self._lock:
            for keys in key_groups:
                self._suspect.update(keys)
            if len(self._suspect) > MAX_SUSPECT_KEYS:
                self._suspect.clear()
                self._all_suspect = True

    def _failed(self, what: str, exc: CacheUnavailable) -> None:
        if isinstance(exc, _Skipped):
            return  # not a failure: the breaker counted it as skipped
        self.breaker.failed()
        self._telemetry.count("cache_errors")
        log.warning("cache %s failed: %s", what, exc, extra={"backend": self.backend})
