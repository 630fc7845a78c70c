"""Runs the core's lookup plan, placing each step where it belongs.

The plan (``CacheThenRepository.plan``) decides the steps and their order; this only
decides where each runs: process memory inside the plan, on the event loop (no thread
hand-off for a hit); a shared cache on a small pool of threads of its own; the repository
on another, bounded by the size of its connection pool and by the step's timeout. A flood
of misses while PostgreSQL is slow or down can then only queue for repository threads:
hits keep their own, and the repository's circuit breaker turns misses into an immediate
503 once it is known to be down.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from adapters.telemetry.tracing import NO_TRACING, Tracing
from order_core import CacheThenRepository
from order_core.lookup import REPOSITORY_TIMEOUT, Answer, Place, Plan

__all__ = ["REPOSITORY_TIMEOUT", "AsyncLookup"]


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
        # An executor per place: its threads bound the step's concurrency, and the work
        # queued beyond them waits without holding a thread of the other. Leaner than
        # anyio's to_thread (measured: its bookkeeping was a fifth of a miss's time).
        self._threads = {
            Place.CACHE: ThreadPoolExecutor(cache_threads, "lookups-cache"),
            Place.REPOSITORY: ThreadPoolExecutor(repository_threads, "lookups-repository"),
        }

    async def find(self, order_uid: str, traceparent: bytes = b"") -> bytes | None:
        """The order's document, or None when there is no such order. Raises InvalidOrderId
        and RepositoryUnavailable like the core."""
        started = self._tracing.now() if self._tracing.enabled else 0
        plan = self._lookup.plan(order_uid, self._repository_timeout)
        answer = plan if isinstance(plan, Answer) else await self._run(plan)
        if started:
            self._tracing.lookup_span(
                order_uid=order_uid,
                traceparent=traceparent,
                started_ns=started,
                answered_by=answer.source,
                found=answer.document is not None,
            )
        return answer.document

    async def _run(self, plan: Plan) -> Answer:
        """Each step of the plan where it belongs, its answer sent back in."""
        try:
            step = next(plan)
            while True:
                future = asyncio.get_running_loop().run_in_executor(
                    self._threads[step.place], step.call
                )
                try:
                    # libpq has no timeout of its own: a server that stops answering
                    # (frozen, or its packets dropped) would hold the request for ever.
                    async with asyncio.timeout(step.timeout):
                        result = await future
                except TimeoutError:
                    assert step.timed_out is not None
                    step = plan.throw(step.timed_out())
                    continue
                step = plan.send(result)
        except StopIteration as done:
            answer: Answer = done.value
            return answer

    def close(self) -> None:
        for threads in self._threads.values():
            threads.shutdown(wait=False, cancel_futures=True)
