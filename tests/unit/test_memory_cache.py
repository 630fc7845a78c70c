"""InMemoryOrderCache: its bounds and expiry (the shared contract is in
tests/integration/test_cache_contract.py)."""

from __future__ import annotations

import threading

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from adapters.caches.memory import ENTRY_OVERHEAD_BYTES, InMemoryOrderCache
from order_core.schema import MAX_ORDER_UID_LENGTH


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def entry_size(key: str, value: bytes) -> int:
    return len(key) + len(value) + ENTRY_OVERHEAD_BYTES


def test_evicts_least_recently_used_beyond_max_entries() -> None:
    cache = InMemoryOrderCache(max_entries=3)
    cache.set_many({"a": b"1", "b": b"2", "c": b"3"})
    assert cache.get("a") == b"1"  # now "b" is the least recently used

    cache.set_many({"d": b"4"})

    assert len(cache) == 3
    assert cache.get("b") is None
    assert [cache.get(k) for k in "acd"] == [b"1", b"3", b"4"]


def test_evicts_least_recently_used_beyond_max_bytes() -> None:
    value = b"x" * 100
    cache = InMemoryOrderCache(max_bytes=3 * entry_size("k1", value) + 10)
    cache.set_many({"k1": value, "k2": value, "k3": value})
    assert cache.get("k1") == value

    cache.add("k4", value)

    assert cache.get("k2") is None
    assert [cache.get(k) for k in ("k1", "k3", "k4")] == [value, value, value]
    assert cache.size_bytes == 3 * entry_size("k1", value)
    assert cache.size_bytes <= cache.max_bytes


def test_size_bytes_follows_replacements_and_deletes() -> None:
    cache = InMemoryOrderCache()
    cache.set_many({"a": b"12345", "b": b""})
    assert cache.size_bytes == entry_size("a", b"12345") + entry_size("b", b"")

    cache.set_many({"a": b"1"})
    cache.delete_many(["b", "missing"])
    assert cache.size_bytes == entry_size("a", b"1")
    assert len(cache) == 1

    cache.clear()
    assert (len(cache), cache.size_bytes) == (0, 0)


def test_one_large_value_evicts_several_small_ones() -> None:
    cache = InMemoryOrderCache(max_bytes=1000)
    cache.set_many({f"s{i}": b"x" * 10 for i in range(10)})
    assert len(cache) == 10

    cache.set_many({"big": b"y" * 800})

    assert cache.get("big") == b"y" * 800
    assert cache.size_bytes <= 1000
    assert cache.get("s0") is None  # oldest went first
    assert cache.get("s9") == b"x" * 10  # newest stayed while it fit


def test_value_that_can_never_fit_is_dropped_with_the_older_value() -> None:
    cache = InMemoryOrderCache(max_bytes=500)
    cache.set_many({"a": b"old", "b": b"kept"})

    cache.set_many({"a": b"z" * 600})

    assert cache.get("a") is None  # never the stale b"old"
    assert cache.get("b") == b"kept"


def test_max_value_bytes_always_fits_in_an_empty_cache() -> None:
    cache = InMemoryOrderCache(max_bytes=1000, max_value_bytes=5000)
    assert cache.max_value_bytes == 1000 - ENTRY_OVERHEAD_BYTES - MAX_ORDER_UID_LENGTH
    key = "k" * MAX_ORDER_UID_LENGTH
    value = b"v" * cache.max_value_bytes

    cache.set_many({key: value})

    assert cache.get(key) == value
    assert InMemoryOrderCache(max_value_bytes=1234).max_value_bytes == 1234


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_entries": 0},
        {"max_bytes": ENTRY_OVERHEAD_BYTES + MAX_ORDER_UID_LENGTH},
        {"max_value_bytes": 0},
        {"default_ttl": 0},
        {"default_ttl": -1.0},
    ],
)
def test_rejects_impossible_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must"):
        InMemoryOrderCache(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("ttl", [0, -5.0, float("nan"), float("inf")])
def test_rejects_a_ttl_that_is_not_positive_and_finite(ttl: float) -> None:
    cache = InMemoryOrderCache()
    with pytest.raises(ValueError, match="ttl"):
        cache.set_many({"a": b"1"}, ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        cache.add("a", b"1", ttl=ttl)
    assert cache.get("a") is None


def test_entries_expire_after_their_ttl() -> None:
    clock = FakeClock()
    cache = InMemoryOrderCache(clock=clock)
    cache.set_many({"short": b"1"}, ttl=5)
    cache.add("absent", b"", ttl=2.5)
    cache.set_many({"forever": b"2"})

    clock.advance(2.4)
    assert cache.get("absent") == b""
    clock.advance(0.1)
    assert cache.get("absent") is None
    assert cache.get("short") == b"1"

    clock.advance(2.5)
    assert cache.get("short") is None
    clock.advance(10_000)
    assert cache.get("forever") == b"2"
    assert len(cache) == 1  # expired entries are removed when read


def test_default_ttl_applies_when_no_ttl_is_given() -> None:
    clock = FakeClock()
    cache = InMemoryOrderCache(default_ttl=10, clock=clock)
    cache.set_many({"default": b"1"})
    cache.set_many({"own": b"2"}, ttl=100)
    cache.add("added", b"3")

    clock.advance(10)

    assert cache.get("default") is None
    assert cache.get("added") is None
    assert cache.get("own") == b"2"


def test_add_stores_only_when_the_key_holds_nothing() -> None:
    cache = InMemoryOrderCache()
    cache.add("a", b"first")
    cache.add("a", b"second")
    cache.set_many({"b": b"set"})
    cache.add("b", b"added")

    assert cache.get("a") == b"first"
    assert cache.get("b") == b"set"


def test_add_replaces_an_expired_entry() -> None:
    clock = FakeClock()
    cache = InMemoryOrderCache(clock=clock)
    cache.add("a", b"", ttl=1)
    clock.advance(1)

    cache.add("a", b"document")

    assert cache.get("a") == b"document"
    assert cache.size_bytes == entry_size("a", b"document")


def test_empty_value_is_a_hit_not_a_miss() -> None:
    cache = InMemoryOrderCache()
    cache.set_many({"empty": b""})

    assert cache.get("empty") == b""
    assert cache.get("empty") is not None
    assert cache.get("never-set") is None


def test_concurrent_writers_and_readers_keep_the_bounds() -> None:
    cache = InMemoryOrderCache(max_entries=50, max_bytes=5000)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(2000):
                key = f"k{(worker * 7 + i) % 120}"
                cache.set_many({key: bytes([worker]) * (i % 90)})
                cache.add(f"a{i % 80}", b"")
                value = cache.get(key)
                assert value is None or len(set(value)) <= 1
                if i % 50 == 0:
                    cache.delete_many([key])
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(cache) <= 50
    assert 0 <= cache.size_bytes <= 5000


KEYS = st.sampled_from([f"key-{c}" for c in "abcdefgh"])
VALUES = st.binary(max_size=150)


class CacheAgainstModel(RuleBasedStateMachine):
    """Any sequence of operations keeps the bounds, and a hit is never stale or expired.

    The model remembers the latest value written for each key and when it expires; the
    cache may forget entries (that is eviction) but must never answer differently.
    """

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.cache = InMemoryOrderCache(max_entries=5, max_bytes=600, clock=self.clock)
        self.model: dict[str, tuple[bytes, float]] = {}

    def _expiry(self, ttl: float | None) -> float:
        return float("inf") if ttl is None else self.clock.now + ttl

    def _live(self, key: str) -> bytes | None:
        value, expires_at = self.model.get(key, (None, 0.0))
        return value if expires_at > self.clock.now else None

    @rule(
        entries=st.dictionaries(KEYS, VALUES, max_size=4),
        ttl=st.none() | st.floats(0.5, 20),
    )
    def set_many(self, entries: dict[str, bytes], ttl: float | None) -> None:
        self.cache.set_many(entries, ttl)
        for key, value in entries.items():
            self.model[key] = (value, self._expiry(ttl))
        for key, value in entries.items():
            if entry_size(key, value) <= self.cache.max_bytes and len(entries) == 1:
                assert self.cache.get(key) == value  # the newest entry is never evicted

    @rule(key=KEYS, value=VALUES, ttl=st.none() | st.floats(0.5, 20))
    def add(self, key: str, value: bytes, ttl: float | None) -> None:
        before = self._live(key)
        self.cache.add(key, value, ttl)
        now_cached = self.cache.get(key)
        assert now_cached is not None  # either kept or just stored
        assert now_cached in (before, value)
        if now_cached == value:
            # Kept or stored anew (after an eviction) look alike: allow the later expiry.
            old_expiry = self.model[key][1] if before == value else 0.0
            self.model[key] = (value, max(old_expiry, self._expiry(ttl)))

    @rule(key=KEYS)
    def get(self, key: str) -> None:
        value = self.cache.get(key)
        assert value is None or value == self._live(key)

    @rule(keys=st.lists(KEYS, max_size=3))
    def delete_many(self, keys: list[str]) -> None:
        self.cache.delete_many(keys)
        for key in keys:
            assert self.cache.get(key) is None

    @precondition(lambda self: len(self.cache) > 0)
    @rule()
    def clear(self) -> None:
        self.cache.clear()
        assert len(self.cache) == 0

    @rule(seconds=st.floats(0, 10))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def within_bounds(self) -> None:
        assert len(self.cache) <= 5
        assert 0 <= self.cache.size_bytes <= 600


CacheAgainstModel.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None
)
test_cache_against_model = CacheAgainstModel.TestCase
