"""The HTTP side's lookups against a store that stops answering: each miss is bounded by
the timeout, then the circuit answers misses at once; hits never wait; the store's return
closes the circuit."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from adapters.caches.memory import InMemoryOrderCache
from adapters.memory_repository import InMemoryOrderRepository
from entrypoints.http.lookups import AsyncLookup
from order_core import CacheGateway, CacheThenRepository, CircuitBreaker, RepositoryUnavailable
from tests.contracts.repository import numbered
from tests.unit.test_breaker import Counting

TIMEOUT = 0.2
RESET_AFTER = 0.3


class HangingRepository(InMemoryOrderRepository):
    """Answers only once released, as a frozen server or a dropped network would."""

    def __init__(self) -> None:
        super().__init__()
        self.answering = threading.Event()

    def get_document(self, order_uid: str) -> bytes | None:
        self.answering.wait()
        return super().get_document(order_uid)


async def timed_find(lookups: AsyncLookup, order_uid: str) -> tuple[float, bytes | None]:
    started = time.monotonic()
    try:
        document = await lookups.find(order_uid)
    except RepositoryUnavailable:
        return time.monotonic() - started, None
    return time.monotonic() - started, document


def run(scenario: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` in a thread of its own: the browser tests' Playwright keeps an event
    loop running in the main thread for the whole session."""
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, scenario).result()


def test_a_store_that_stops_answering_costs_one_timeout_not_one_per_miss() -> None:
    repository = HangingRepository()
    stored, cached = numbered(1), numbered(2)
    repository.save_many([stored, cached])
    gateway = CacheGateway(InMemoryOrderCache(max_entries=100))
    gateway.store({cached.order_uid: cached.document})
    breaker = CircuitBreaker("repository", reset_after=RESET_AFTER)
    lookup = CacheThenRepository(repository, gateway, repository_breaker=breaker)

    async def scenario() -> None:
        lookups = AsyncLookup(
            lookup, cache_threads=1, repository_threads=2, repository_timeout=TIMEOUT
        )
        try:
            waited, _ = await timed_find(lookups, stored.order_uid)
            assert TIMEOUT <= waited < TIMEOUT + 0.5  # bounded, and a 503
            assert breaker.state == "open"
            with pytest.raises(RepositoryUnavailable):
                await lookups.find(stored.order_uid)  # refused without a thread
            assert (await timed_find(lookups, cached.order_uid))[1] == cached.document
            await asyncio.sleep(RESET_AFTER)
            waited, _ = await timed_find(lookups, stored.order_uid)  # the trial: still hung
            assert TIMEOUT <= waited < TIMEOUT + 0.5
            repository.answering.set()  # the store is back
            await asyncio.sleep(RESET_AFTER)
            assert await lookups.find(stored.order_uid) == stored.document
            assert breaker.state == "closed"
        finally:
            repository.answering.set()
            lookups.close()

    run(scenario())


def test_a_refused_miss_does_not_wait_for_a_thread() -> None:
    # Every repository thread is held by the hung store; a refused miss still answers.
    repository = HangingRepository()
    breaker = CircuitBreaker("repository", reset_after=60)
    telemetry = Counting()
    lookup = CacheThenRepository(
        repository,
        CacheGateway(InMemoryOrderCache(max_entries=10)),
        telemetry=telemetry,
        repository_breaker=breaker,
    )

    async def scenario() -> None:
        lookups = AsyncLookup(
            lookup, cache_threads=1, repository_threads=1, repository_timeout=TIMEOUT
        )
        try:
            await timed_find(lookups, "first")  # holds the one thread, opens the circuit
            waits = [(await timed_find(lookups, f"id-{i}"))[0] for i in range(20)]
            assert max(waits) < TIMEOUT / 2
            assert telemetry.counts["cache_misses"] == 21  # refused or not, each one missed
            assert telemetry.counts["repository_circuit_skipped"] == 20
        finally:
            repository.answering.set()
            lookups.close()

    run(scenario())
