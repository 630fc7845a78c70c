"""The OrderCache contract: tests every cache adapter must pass, unchanged.

A suite runs them by defining a ``make_cache`` fixture (a ``CacheFactory``) and importing
this module's tests: tests/unit/test_cache_contract.py against the in-memory caches,
tests/integration/test_cache_contract.py against Memcached and Redis on the real servers.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import Protocol

import pytest

from order_core.errors import CacheUnavailable
from order_core.ports import OrderCache

BINARY = bytes(range(256)) + b"\r\nEND\r\nVALUE x 0 1\r\n\x00"


class CacheFactory(Protocol):
    def __call__(
        self, *, default_ttl: float | None = None, reachable: bool = True
    ) -> OrderCache: ...


def new_key() -> str:
    return f"t-{uuid.uuid4()}"


def new_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def cache(make_cache: CacheFactory) -> OrderCache:
    return make_cache()


def test_names_its_backend(cache: OrderCache, make_cache: CacheFactory) -> None:
    assert cache.backend in {"memory", "memcached", "redis"}
    assert make_cache(reachable=False).backend == cache.backend


def test_a_key_never_set_is_a_miss(cache: OrderCache) -> None:
    assert cache.get(new_key()) is None


def test_set_many_then_get(cache: OrderCache) -> None:
    entries = {new_key(): b'{"order_uid": "%d"}' % i for i in range(5)}
    entries[new_key()] = BINARY

    cache.set_many(entries)

    assert {k: cache.get(k) for k in entries} == entries


def test_set_many_of_nothing_is_fine(cache: OrderCache) -> None:
    cache.set_many({})
    cache.set_many({}, ttl=3)


def test_set_many_replaces(cache: OrderCache) -> None:
    key, other = new_key(), new_key()
    cache.set_many({key: b"old", other: b"other"})

    cache.set_many({key: b"new"})

    assert cache.get(key) == b"new"
    assert cache.get(other) == b"other"


def test_set_many_replaces_an_absent_marker(cache: OrderCache) -> None:
    key = new_key()
    cache.add(key, b"", ttl=30)

    cache.set_many({key: b"document"})

    assert cache.get(key) == b"document"


def test_add_stores_when_absent(cache: OrderCache) -> None:
    key = new_key()

    cache.add(key, b"document")

    assert cache.get(key) == b"document"


def test_add_does_not_replace(cache: OrderCache) -> None:
    written, added = new_key(), new_key()
    cache.set_many({written: b"written"})
    cache.add(added, b"first")

    cache.add(written, b"late read")
    cache.add(added, b"second")

    assert cache.get(written) == b"written"
    assert cache.get(added) == b"first"


def test_empty_value_round_trips_and_differs_from_a_miss(cache: OrderCache) -> None:
    set_key, added_key = new_key(), new_key()

    cache.set_many({set_key: b""})
    cache.add(added_key, b"", ttl=30)

    assert cache.get(set_key) == b""
    assert cache.get(added_key) == b""
    assert cache.get(set_key) is not None
    assert cache.get(new_key()) is None


def test_delete_many_drops_the_keys_and_ignores_unknown_ones(cache: OrderCache) -> None:
    dropped, kept = [new_key(), new_key()], new_key()
    cache.set_many({dropped[0]: b"1", dropped[1]: b"", kept: b"3"})

    cache.delete_many([*dropped, new_key(), new_key()])
    cache.delete_many([])

    assert [cache.get(k) for k in dropped] == [None, None]
    assert cache.get(kept) == b"3"


def test_delete_many_of_many_keys(cache: OrderCache) -> None:
    keys = [new_key() for _ in range(1200)]
    cache.set_many(dict.fromkeys(keys, b"x"))

    cache.delete_many(keys[:1100])

    assert all(cache.get(k) is None for k in keys[:1100:37])
    assert all(cache.get(k) == b"x" for k in keys[1100:])


def test_clear_drops_everything(cache: OrderCache) -> None:
    keys = [new_key() for _ in range(1200)]
    cache.set_many(dict.fromkeys(keys, b"x"))
    cache.add(keys[0] + "-absent", b"", ttl=30)

    cache.clear()

    assert all(cache.get(k) is None for k in keys[::7])
    assert cache.get(keys[-1]) is None
    assert cache.get(keys[0] + "-absent") is None
    cache.set_many({keys[0]: b"after"})  # still usable
    assert cache.get(keys[0]) == b"after"


def test_entries_expire_after_their_ttl(make_cache: CacheFactory) -> None:
    cache = make_cache()
    with_default = make_cache(default_ttl=1.5)
    set_key, added_key, default_key, kept_key, long_key, short_key = (new_key() for _ in range(6))
    # 1.5 s: Memcached rounds it up to 2 s and its clock ticks once a second, so the entry
    # lives 1 to 2 s there, exactly 1.5 s elsewhere.
    cache.set_many({set_key: b"1"}, ttl=1.5)
    cache.add(added_key, b"", ttl=1.5)
    with_default.set_many({default_key: b"3"})
    with_default.set_many({long_key: b"4"}, ttl=60)
    cache.set_many({kept_key: b"5"})
    cache.set_many({short_key: b"6"}, ttl=0.4)  # under a second: must not become "never"
    assert [cache.get(set_key), cache.get(added_key)] == [b"1", b""]
    assert with_default.get(default_key) == b"3"

    time.sleep(2.2)

    assert cache.get(set_key) is None
    assert cache.get(added_key) is None
    assert cache.get(short_key) is None
    assert with_default.get(default_key) is None
    assert with_default.get(long_key) == b"4"
    assert cache.get(kept_key) == b"5"


@pytest.mark.parametrize("ttl", [0, -1.0, float("nan"), float("inf")])
def test_a_ttl_must_be_positive_and_finite(cache: OrderCache, ttl: float) -> None:
    key = new_key()
    with pytest.raises(ValueError, match="ttl"):
        cache.set_many({key: b"1"}, ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        cache.add(key, b"1", ttl=ttl)
    assert cache.get(key) is None


def test_a_ttl_beyond_30_days_keeps_the_entry(cache: OrderCache) -> None:
    # Memcached reads an expiry above 30 days as a Unix time: sent as is, it would be past.
    set_key, added_key = new_key(), new_key()

    cache.set_many({set_key: b"1"}, ttl=40 * 24 * 3600.0)
    cache.add(added_key, b"2", ttl=40 * 24 * 3600.0)

    assert cache.get(set_key) == b"1"
    assert cache.get(added_key) == b"2"


def test_max_value_bytes_is_a_positive_int_and_such_a_value_fits(cache: OrderCache) -> None:
    assert isinstance(cache.max_value_bytes, int)
    assert cache.max_value_bytes > 0
    key = "k" * 60 + "-" + uuid.uuid4().hex[:3]  # the longest order id: 64 characters
    value = os.urandom(cache.max_value_bytes)

    cache.set_many({key: value})

    assert cache.get(key) == value


def test_a_large_value_round_trips(cache: OrderCache) -> None:
    set_key, added_key = new_key(), new_key()
    value = os.urandom(500 * 1024)

    cache.set_many({set_key: value})
    cache.add(added_key, value)

    assert cache.get(set_key) == value
    assert cache.get(added_key) == value


OPERATIONS: dict[str, Callable[[OrderCache], object]] = {
    "get": lambda c: c.get(new_key()),
    "set_many": lambda c: c.set_many({new_key(): b"1", new_key(): b""}),
    "set_many with ttl": lambda c: c.set_many({new_key(): b"1"}, ttl=5),
    "add": lambda c: c.add(new_key(), b""),
    "delete_many": lambda c: c.delete_many([new_key(), new_key()]),
    "clear": lambda c: c.clear(),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_a_backend_that_is_down_raises_cache_unavailable_quickly(
    make_cache: CacheFactory, operation: str
) -> None:
    cache = make_cache(reachable=False)
    for _attempt in range(2):  # and again: no silent fallback after a first failure
        started = time.monotonic()
        with pytest.raises(CacheUnavailable):
            OPERATIONS[operation](cache)
        assert time.monotonic() - started < 2.0
