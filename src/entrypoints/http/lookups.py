"""Runs the core's three lookup steps where each belongs, so that misses never hold up hits.

Process memory is asked on the event loop (no thread hand-off for a hit); a shared cache
on a small pool of threads of its own; the repository on another, bounded by the size of
its connection pool. A flood of misses while PostgreSQL is slow or down can then only
queue for repository threads: hits keep their own, and the repository's circuit breaker
turns misses into an immediate 503 once it is known to be down.
"""

from __future__ import annotations

import anyio
import anyio.to_thread

from adapters.tracing import NO_TRACING, Tracing
from order_core import CacheThenRepository


class AsyncLookup:
    def __init__(
        self,
        lookup: CacheThenRepository,
        *,
        cache_threads: int,
        repository_threads: int,
        tracing: Tracing = NO_TRACING,
    ) -> None:
        self._lookup = lookup
        self._tracing = tracing
        self._cache_limiter = anyio.CapacityLimiter(cache_threads)
        self._repository_limiter = anyio.CapacityLimiter(repository_threads)

    async def find(self, order_uid: str, traceparent: bytes = b"") -> bytes | None:
        """The order's document, or None when there is no such order. Raises InvalidOrderId
        and RepositoryUnavailable like the core."""
        started = self._tracing.now() if self._tracing.enabled else 0
        lookup = self._lookup
        answered_by = "memory"
        answer = lookup.answer_from_memory(order_uid)
        if answer is None and lookup.cache_may_block:
            answered_by = "cache"
            answer = await anyio.to_thread.run_sync(
                lookup.answer_from_cache, order_uid, limiter=self._cache_limiter
            )
        if answer is None:
            answered_by = "repository"
            answer = await anyio.to_thread.run_sync(
                lookup.answer_from_repository, order_uid, limiter=self._repository_limiter
            )
        if started:
            self._tracing.lookup_span(
                order_uid=order_uid,
                traceparent=traceparent,
                started_ns=started,
                answered_by=answered_by,
                found=answer.document is not None,
            )
        return answer.document
