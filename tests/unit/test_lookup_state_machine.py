"""A stateful property test of the read path: under any interleaving of saves, lookups,
resets, warm-ups, cache outages and time passing, a lookup returns exactly what the
repository holds: never a wrong or outdated order, never "absent" for a stored order."""

from __future__ import annotations

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from adapters.caches.near import NearCachedOrderCache
from order_core import (
    CacheAdmin,
    CacheGateway,
    CacheThenRepository,
    CacheUnavailable,
    CircuitBreaker,
    Order,
    RepositoryUnavailable,
    SaveThenCache,
    decode_order,
    encode_order,
)
from tests.conftest import SAMPLE_PATH
from tests.fakes import FakeCache, FakeRepository

IDS = ["a", "b", "c"]
BASE = decode_order(SAMPLE_PATH.read_bytes())


def variant(order_uid: str, version: int) -> Order:
    """Different content under the same id: only the first saved may ever be served."""
    return attrs.evolve(BASE, order_uid=order_uid, track_number=f"TRACK{version}")


class LookupMachine(RuleBasedStateMachine):
    near = False  # a near cache in front of a "shared" one (NearLookupMachine)

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.repository = FakeRepository()
        # The cache that fails and restarts; small, so it evicts often.
        self.cache = FakeCache(max_entries=3, clock=lambda: self.now)
        cache = self.cache
        if self.near:
            near = FakeCache(max_entries=2, clock=lambda: self.now)
            cache = NearCachedOrderCache(self.cache, near)  # type: ignore[assignment]
        clock = lambda: self.now  # noqa: E731
        gateway = CacheGateway(
            cache, negative_ttl=30, breaker=CircuitBreaker("cache", reset_after=5, clock=clock)
        )
        self.ingest = SaveThenCache(self.repository, gateway)
        self.lookup = CacheThenRepository(
            self.repository,
            gateway,
            repository_breaker=CircuitBreaker("repository", reset_after=1, clock=clock),
        )
        self.admin = CacheAdmin(self.repository, gateway)
        self.truth: dict[str, Order] = {}

    @rule(order_uid=st.sampled_from(IDS), version=st.integers(0, 3))
    def save(self, order_uid: str, version: int) -> None:
        order = variant(order_uid, version)
        try:
            self.ingest([encode_order(order)])
        except RepositoryUnavailable:
            return  # nothing saved: the consumer would retry the batch later
        self.truth.setdefault(order_uid, order)

    @rule(order_uid=st.sampled_from(IDS))
    def look_up(self, order_uid: str) -> None:
        try:
            found = self.lookup.get(order_uid)
        except RepositoryUnavailable:
            # Down, or failed so recently that the breaker does not try it yet.
            assert not self.repository.available or self.lookup.repository_breaker.is_open
            return
        assert found == self.truth.get(order_uid)

    @rule()
    def reset(self) -> None:
        try:
            self.admin.reset()
        except CacheUnavailable:
            assert self.cache.failing

    @rule(limit=st.integers(0, 6))
    def warm_up(self, limit: int) -> None:
        try:
            self.admin.warm_up(limit, batch_size=2)
        except CacheUnavailable:
            assert self.cache.failing
        except RepositoryUnavailable:
            assert not self.repository.available

    @precondition(lambda self: not self.cache.failing)
    @rule()
    def cache_fails(self) -> None:
        self.cache.failing = True

    @precondition(lambda self: self.cache.failing)
    @rule(comes_back_empty=st.booleans())
    def cache_recovers(self, comes_back_empty: bool) -> None:
        self.cache.failing = False
        if comes_back_empty:  # a restarted Memcached forgets everything
            self.cache.clear()

    @precondition(lambda self: not self.cache.failing)
    @rule(order_uid=st.sampled_from(IDS), version=st.integers(0, 3), comes_back_empty=st.booleans())
    def save_during_a_cache_outage(
        self, order_uid: str, version: int, comes_back_empty: bool
    ) -> None:
        """The outage that matters most: the save commits, its cache write fails."""
        self.cache_fails()
        self.save(order_uid, version)
        self.cache_recovers(comes_back_empty)

    @rule()
    def repository_toggles(self) -> None:
        self.repository.available = not self.repository.available

    @rule(seconds=st.sampled_from([1.0, 6.0, 31.0]))  # under, between and over the ttls
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @invariant()
    def repository_holds_first_versions(self) -> None:
        assert len(self.repository) == len(self.truth)

    @rule()
    def ingest_is_idle(self) -> None:
        """The consumer polls with nothing new: a moment to repair failed cache writes."""
        self.ingest([])


class NearLookupMachine(LookupMachine):
    near = True


for machine in (LookupMachine, NearLookupMachine):
    machine.TestCase.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)
TestLookupMachine = LookupMachine.TestCase
TestNearLookupMachine = NearLookupMachine.TestCase
