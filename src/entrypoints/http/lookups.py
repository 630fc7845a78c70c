"""Runs the core's three lookup steps where each belongs, so that misses never hold up hits.

Process memory is asked on the event loop (no thread hand-off for a hit); a shared cache
on a small pool of threads of its own; the repository on another, bounded by the size of
its connection pool. A flood of misses while PostgreSQL is slow or down can then only
queue for repository threads: hits keep their own, and the repository's circuit breaker
turns misses into an immediate 503 once it is known to be down.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from adapters.tracing import NO_TRACING, Tracing
from order_core import CacheThenRepository, RepositoryUnavailable

# A miss answers 503 after this long without an answer (the pool's own wait for a
# connection is as long: either way, the same outcome).
REPOSITORY_TIMEOUT = 5.0


class AsyncLookup:
    def __init__(
        self,
        lookup: CacheThenRepository,
        *,
        cache_threads: int,
        repository_threads: int,
        repository_timeout: float = REPOSITORY_TIMEOUT,
        tracing: Tracing = NO_TRACING,
    ) -> None:
        self._lookup = lookup
        self._tracing = tracing
        self._repository_timeout = repository_timeout
        # An executor per step: its threads bound the step's concurrency, and the work
        # queued beyond them waits without holding a thread of the other step. Leaner
        # than anyio's to_thread (measured: its bookkeeping was a fifth of a miss's time).
        self._cache_threads = ThreadPoolExecutor(cache_threads, "lookups-cache")
        self._repository_threads = ThreadPoolExecutor(repository_threads, "lookups-repository")

    async def find(self, order_uid: str, traceparent: bytes = b"") -> bytes | None:
        """The order's document, or None when there is no such order. Raises InvalidOrderId
        and RepositoryUnavailable like the core."""
        started = self._tracing.now() if self._tracing.enabled else 0
        lookup = self._lookup
        answered_by = "memory"
        answer = lookup.answer_from_memory(order_uid)
        if answer is None and lookup.cache_may_block:
            answered_by = "cache"
            answer = await asyncio.get_running_loop().run_in_executor(
                self._cache_threads, lookup.answer_from_cache, order_uid
            )
        if answer is None:
            answered_by = "repository"
            if lookup.repository_refused():
                raise RepositoryUnavailable("the order store is down; not retried for a moment")
            future = asyncio.get_running_loop().run_in_executor(
                self._repository_threads, lookup.answer_from_repository, order_uid
            )
            try:
                # libpq has no timeout of its own: a server that stops answering (frozen,
                # or its packets dropped) would hold this request, and the thread, for ever.
                async with asyncio.timeout(self._repository_timeout):
                    answer = await future
            except TimeoutError:
                raise lookup.repository_did_not_answer(self._repository_timeout) from None
        if started:
            self._tracing.lookup_span(
                order_uid=order_uid,
                traceparent=traceparent,
                started_ns=started,
                answered_by=answered_by,
                found=answer.document is not None,
            )
        return answer.document

    def close(self) -> None:
        self._cache_threads.shutdown(wait=False, cancel_futures=True)
        self._repository_threads.shutdown(wait=False, cancel_futures=True)
