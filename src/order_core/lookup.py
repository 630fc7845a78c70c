"""Cache-then-repository lookups: the read path of the service."""

from __future__ import annotations

import logging

from order_core.cache_writer import CacheWriter
from order_core.codec import decode_order
from order_core.errors import CacheUnavailable
from order_core.model import Order
from order_core.order_id import check_order_uid
from order_core.ports import NoTelemetry, OrderRepository, Telemetry
from order_core.single_flight import SingleFlight

log = logging.getLogger(__name__)

# Cached in place of a document to remember that an id is unknown (documents are never empty).
ABSENT = b""
DEFAULT_NEGATIVE_TTL = 5.0


class CacheThenRepository:
    """Answer from the cache; on a miss read the repository once and fill the cache.

    Concurrent misses for one id share a single repository read. An unknown id is cached
    as absent for ``negative_ttl`` seconds (0 turns that off); saving the order replaces
    that entry, so a new order is visible at once. Raises InvalidOrderId for a bad id and
    RepositoryUnavailable when a miss cannot be answered.
    """

    def __init__(
        self,
        repository: OrderRepository,
        cache_writer: CacheWriter,
        telemetry: Telemetry | None = None,
        negative_ttl: float = DEFAULT_NEGATIVE_TTL,
    ) -> None:
        self._repository = repository
        self._writer = cache_writer
        self._cache = cache_writer.cache
        self._telemetry = telemetry or NoTelemetry()
        self._negative_ttl = negative_ttl
        self._flight: SingleFlight[bytes | None] = SingleFlight()

    def get_document(self, order_uid: str) -> bytes | None:
        """The order's JSON document, or None when no such order exists."""
        cached = self.peek(order_uid)
        if cached is not None:
            return None if cached == ABSENT else cached
        self._telemetry.count("cache_misses")
        return self._flight.run(order_uid, lambda: self._read_through(order_uid))

    def peek(self, order_uid: str) -> bytes | None:
        """Only the cache's answer: a document, ABSENT (known unknown), or None on a miss.

        With an in-process cache this never blocks, so an async caller can answer hits
        without handing the request to a thread.
        """
        check_order_uid(order_uid)
        cached = self._cached(order_uid)
        if cached is not None:
            self._telemetry.count("cache_hits" if cached != ABSENT else "cache_negative_hits")
        return cached

    def get(self, order_uid: str) -> Order | None:
        """The order itself, for library users who want objects rather than JSON."""
        document = self.get_document(order_uid)
        return None if document is None else decode_order(document)

    def _cached(self, order_uid: str) -> bytes | None:
        # A failed earlier write may have left a stale entry: mend that before trusting it.
        if not self._writer.repair():
            return None
        try:
            return self._cache.get(order_uid)
        except CacheUnavailable as exc:
            self._telemetry.count("cache_errors")
            log.warning("cache read failed: %s", exc)
            return None

    def _read_through(self, order_uid: str) -> bytes | None:
        self._telemetry.count("repository_reads")
        document = self._repository.get_document(order_uid)
        try:
            if document is None:
                if self._negative_ttl > 0:
                    self._cache.add(order_uid, ABSENT, self._negative_ttl)
            elif len(document) <= self._cache.max_value_bytes:
                self._cache.add(order_uid, document)
        except CacheUnavailable as exc:
            self._telemetry.count("cache_errors")
            log.warning("cache fill failed: %s", exc)
        return document
