"""The OrderCache contract (tests/contracts/cache.py) held by the in-memory caches: the
cache itself, and the near cache over a shared one (here an in-memory cache that can be
switched off, as a shared cache goes down)."""

from __future__ import annotations

import pytest

from adapters.caches.near import NearCachedOrderCache
from order_core import CacheUnavailable
from order_core.ports import OrderCache
from tests.contracts.cache import *  # noqa: F403 - the contract's tests
from tests.contracts.cache import CacheFactory
from tests.fakes import FakeCache


@pytest.fixture(params=["memory", "memory+near"])
def make_cache(request: pytest.FixtureRequest) -> CacheFactory:
    near = str(request.param).endswith("+near")

    def make(*, default_ttl: float | None = None, reachable: bool = True) -> OrderCache:
        shared = FakeCache(default_ttl=default_ttl)
        shared.failing = not reachable
        if near:
            return NearCachedOrderCache(shared, FakeCache(default_ttl=default_ttl))
        return shared

    return make


def test_the_fake_fails_like_a_cache_that_is_down_and_keeps_its_data() -> None:
    cache = FakeCache()
    cache.set_many({"a": b"1"})
    cache.failing = True

    with pytest.raises(CacheUnavailable):
        cache.get("a")
    with pytest.raises(CacheUnavailable):
        cache.set_many({"a": b"2"})
    with pytest.raises(CacheUnavailable):
        cache.add("b", b"2")
    with pytest.raises(CacheUnavailable):
        cache.delete_many(["a"])
    with pytest.raises(CacheUnavailable):
        cache.clear()

    cache.failing = False
    assert cache.get("a") == b"1"
    assert cache.get("b") is None
