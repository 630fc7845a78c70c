"""The use cases against in-memory fakes: save-then-cache, cache-then-repository, admin."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence

import attrs
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.caches.near import NearCachedOrderCache
from order_core import (
    CacheAdmin,
    CacheGateway,
    CacheThenRepository,
    CircuitBreaker,
    InvalidOrderId,
    Order,
    RepositoryFailed,
    RepositoryUnavailable,
    SaveThenCache,
    decode_order,
    encode_order,
)
from order_core.cache_gateway import ABSENT
from order_core.ingest import UNANIMOUS_REFUSAL_MIN_ORDERS
from tests.conftest import SAMPLE_ID, SAMPLE_PATH
from tests.fakes import FakeCache, FakeRepository
from tests.strategies import orders


class CountingRepository(FakeRepository):
    """Counts reads, and can hold them so that many lookups pile up on one miss."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.gate = threading.Event()
        self.gate.set()

    def get_document(self, order_uid: str) -> bytes | None:
        self.reads += 1
        self.gate.wait(5)
        return super().get_document(order_uid)


class Service:
    def __init__(self, negative_ttl: float = 60.0) -> None:
        self.clock = [0.0]
        self.repository = CountingRepository()
        self.cache = FakeCache(clock=lambda: self.clock[0])
        self.gateway = CacheGateway(self.cache, negative_ttl=negative_ttl)
        self.ingest = SaveThenCache(self.repository, self.gateway, max_message_bytes=50_000)
        self.lookup = CacheThenRepository(self.repository, self.gateway)
        self.admin = CacheAdmin(self.repository, self.gateway)


def message(order: Order) -> bytes:
    return encode_order(order)


@given(st.lists(orders(), min_size=1, max_size=8, unique_by=lambda o: o.order_uid))
@settings(max_examples=50)
def test_saved_orders_are_stored_cached_and_found(batch: list[Order]) -> None:
    service = Service()
    result = service.ingest([message(o) for o in batch])
    assert result.inserted == {o.order_uid for o in batch}
    for order in batch:
        assert service.cache.get(order.order_uid) == encode_order(order)
        assert service.lookup.get(order.order_uid) == order
    assert service.repository.reads == 0  # every lookup was a cache hit


def test_invalid_messages_come_back_with_reasons_and_are_not_saved(sample_bytes: bytes) -> None:
    service = Service()
    bad_amount = orjson.loads(sample_bytes)
    bad_amount["order_uid"] = "other"
    bad_amount["payment"]["amount"] = -1
    result = service.ingest([b"nope", sample_bytes, orjson.dumps(bad_amount), b"x" * 50_001])
    assert result.inserted == {SAMPLE_ID}
    assert [r.index for r in result.rejected] == [0, 2, 3]
    assert "not JSON" in result.rejected[0].reason
    assert "payment.amount" in result.rejected[1].reason
    assert "over the limit" in result.rejected[2].reason
    assert len(service.repository) == 1


def test_a_repeated_order_is_stored_once(sample_bytes: bytes) -> None:
    service = Service()
    first = service.ingest([sample_bytes, sample_bytes])
    again = service.ingest([sample_bytes])
    assert first.inserted == {SAMPLE_ID}
    assert first.already_stored == 1
    assert again.inserted == frozenset()
    assert again.already_stored == 1
    assert len(service.repository) == 1


@given(
    first=orders(),
    second=orders(),
    same_batch=st.booleans(),
    repeats=st.integers(0, 2),
)
@settings(max_examples=100)
def test_a_different_document_under_a_stored_id_is_a_conflict_never_silent(
    first: Order, second: Order, same_batch: bool, repeats: int
) -> None:
    """Exact repeats are no-ops; any other document under the same order_uid is set aside
    as a conflict naming both documents' SHA-256, in the same batch or a later one."""
    other = attrs.evolve(second, order_uid=first.order_uid)
    service = Service()
    messages = [message(first)] * (1 + repeats) + [message(other)]
    if same_batch:
        results = [service.ingest(messages)]
    else:
        results = [service.ingest(messages[:-1]), service.ingest(messages[-1:])]
    rejected = [r for result in results for r in result.rejected]
    assert service.repository.get_document(first.order_uid) == message(first)
    same = message(other) == message(first)  # (equal instants in two zones are two documents)
    assert sum(r.already_stored for r in results) == repeats + same
    if message(other) == message(first):
        assert rejected == []
        return
    (conflict,) = rejected
    assert conflict.index == len(messages) - 1 - (0 if same_batch else len(messages) - 1)
    assert conflict.reason == (
        f"conflict: order {first.order_uid} is already stored with a different document"
        f" (stored sha256 {hashlib.sha256(message(first)).hexdigest()},"
        f" this message's {hashlib.sha256(message(other)).hexdigest()}); the stored one is kept"
    )
    assert service.lookup.get(first.order_uid) == first


def test_conflicts_are_counted_apart_from_invalid_messages(sample_bytes: bytes) -> None:
    counts: dict[str, int] = {}

    class Counting:
        def count(self, event: str, amount: int = 1) -> None:
            counts[event] = counts.get(event, 0) + amount

        def gauge(self, name: str, value: float) -> None:
            return None

    repository = FakeRepository()
    ingest = SaveThenCache(repository, CacheGateway(FakeCache()), Counting())
    changed = orjson.loads(sample_bytes)
    changed["track_number"] = "CHANGED"
    ingest([sample_bytes])
    ingest([orjson.dumps(changed), b"junk", sample_bytes])
    assert counts == {
        "orders_saved": 1,
        "orders_already_stored": 1,
        "orders_conflicting": 1,
        "orders_rejected": 1,
    }


def test_a_large_batch_refused_whole_for_one_reason_stops_ingestion() -> None:
    """Every order refused with one and the same reason: the store's rule, not their data
    (a CHECK no order meets, say): the consumer must stop, not dead-letter them all."""
    repository = FakeRepository()
    repository.refuses = lambda _o: True
    repository.refusal_reason = lambda _o: "check constraint currency_known"
    ingest = SaveThenCache(repository, CacheGateway(FakeCache()))
    batch = [encode_order(_sample_like(i)) for i in range(UNANIMOUS_REFUSAL_MIN_ORDERS)]
    with pytest.raises(RepositoryFailed, match="refused all 8 orders of a batch for the same"):
        ingest(batch)
    # Fewer orders, or reasons that differ: each refused order is set aside as before.
    assert len(ingest(batch[:-1]).rejected) == UNANIMOUS_REFUSAL_MIN_ORDERS - 1
    repository.refusal_reason = lambda o: f"refused {o.order_uid}"
    assert len(ingest(batch).rejected) == UNANIMOUS_REFUSAL_MIN_ORDERS


def test_repository_down_means_nothing_saved_and_the_error_propagates(sample_bytes: bytes) -> None:
    service = Service()
    service.repository.available = False
    with pytest.raises(RepositoryUnavailable):
        service.ingest([sample_bytes])
    assert service.cache.get(SAMPLE_ID) is None
    service.repository.available = True
    assert service.ingest([sample_bytes]).inserted == {SAMPLE_ID}


def test_miss_reads_repository_once_and_fills_cache(sample_bytes: bytes) -> None:
    service = Service()
    service.ingest([sample_bytes])
    service.admin.reset()
    assert service.cache.get(SAMPLE_ID) is None
    assert service.lookup.get_document(SAMPLE_ID) is not None
    assert service.lookup.get_document(SAMPLE_ID) is not None
    assert service.repository.reads == 1


def test_unknown_id_is_cached_as_absent_until_the_order_arrives(sample_bytes: bytes) -> None:
    service = Service(negative_ttl=60)
    assert service.lookup.get_document(SAMPLE_ID) is None
    assert service.lookup.get_document(SAMPLE_ID) is None
    assert service.repository.reads == 1  # the second answer came from the negative entry
    assert service.cache.get(SAMPLE_ID) == ABSENT
    service.ingest([sample_bytes])
    assert service.lookup.get_document(SAMPLE_ID) is not None  # visible at once


def test_negative_entries_expire(sample_bytes: bytes) -> None:
    service = Service(negative_ttl=2)
    assert service.lookup.get_document("unknown") is None
    service.clock[0] += 2.5
    assert service.lookup.get_document("unknown") is None
    assert service.repository.reads == 2


@pytest.mark.parametrize("bad_id", ["", "a b", "x" * 65, "new\nline", "ends\n", "<script>", "é"])
def test_bad_ids_are_refused_before_any_backend(bad_id: str) -> None:
    service = Service()
    with pytest.raises(InvalidOrderId):
        service.lookup.get_document(bad_id)
    assert service.repository.reads == 0


def test_concurrent_misses_share_one_repository_read(sample_bytes: bytes) -> None:
    service = Service()
    service.ingest([sample_bytes])
    service.admin.reset()
    service.repository.gate.clear()  # hold the first read until every lookup is waiting
    results: list[bytes | None] = []
    threads = [
        threading.Thread(target=lambda: results.append(service.lookup.get_document(SAMPLE_ID)))
        for _ in range(50)
    ]
    for thread in threads:
        thread.start()
    while service.repository.reads == 0:
        threading.Event().wait(0.01)
    threading.Event().wait(0.2)  # let the other 49 reach the single-flight wait
    service.repository.gate.set()
    for thread in threads:
        thread.join(5)
    assert len(results) == 50
    assert all(r == results[0] and r is not None for r in results)
    assert service.repository.reads == 1


def test_cache_down_lookups_fall_back_and_ingest_still_saves(sample_bytes: bytes) -> None:
    service = Service()
    service.cache.failing = True
    result = service.ingest([sample_bytes])
    assert result.inserted == {SAMPLE_ID}
    assert service.lookup.get(SAMPLE_ID) is not None
    service.cache.failing = False
    assert service.lookup.get(SAMPLE_ID) is not None


@pytest.mark.parametrize("near", [False, True])
def test_a_failed_cache_write_cannot_leave_a_stale_absent_entry(
    sample_bytes: bytes, near: bool
) -> None:
    clock = [0.0]
    repository = FakeRepository()
    shared = FakeCache(clock=lambda: clock[0])
    cache = NearCachedOrderCache(shared, FakeCache()) if near else shared
    breaker = CircuitBreaker("cache", reset_after=5, clock=lambda: clock[0])
    gateway = CacheGateway(cache, negative_ttl=600, breaker=breaker)
    ingest, lookup = SaveThenCache(repository, gateway), CacheThenRepository(repository, gateway)
    assert lookup.get_document(SAMPLE_ID) is None  # cached as absent
    shared.failing = True
    ingest([sample_bytes])  # saved, but the cache write failed
    shared.failing = False  # the cache is back, still holding "absent"
    assert lookup.get_document(SAMPLE_ID) is not None  # the circuit is open: not asked
    clock[0] += 6  # the circuit lets a trial through
    assert lookup.get_document(SAMPLE_ID) is not None  # the key is suspect: not trusted
    ingest([])  # an idle poll repairs the cache
    assert gateway.suspect_keys == 0
    assert lookup.get_document(SAMPLE_ID) is not None


def test_values_over_the_cache_limit_are_served_not_cached() -> None:
    repository = FakeRepository()
    cache = FakeCache(max_value_bytes=2_000)
    gateway = CacheGateway(cache)
    ingest = SaveThenCache(repository, gateway)
    lookup = CacheThenRepository(repository, gateway)
    big = attrs.evolve(_sample_like(1), items=_sample_like(1).items * 40)  # about 12 KB
    ingest([encode_order(big)])
    assert cache.get("order1") is None
    assert lookup.get("order1") == big
    assert cache.get("order1") is None


def test_warm_up_loads_the_most_recent_orders() -> None:
    service = Service()
    batch: Sequence[bytes] = [
        orjson.dumps({**orjson.loads(encode_order(_sample_like(i)))}) for i in range(10)
    ]
    service.ingest(batch)
    service.admin.reset()
    assert service.admin.warm_up(limit=4, batch_size=3) == 4
    cached = [f"order{i}" for i in range(10) if service.cache.get(f"order{i}") is not None]
    assert cached == ["order6", "order7", "order8", "order9"]


def _sample_like(i: int) -> Order:

    return attrs.evolve(decode_order(SAMPLE_PATH.read_bytes()), order_uid=f"order{i}")


def test_orders_the_store_refuses_are_found_by_bisection_and_rejected_alone() -> None:
    repository = FakeRepository()
    repository.refuses = lambda o: o.order.entry == "poison"
    ingest = SaveThenCache(repository, CacheGateway(FakeCache()))
    batch = [_sample_like(i) for i in range(64)]
    batch[5] = attrs.evolve(batch[5], entry="poison")
    batch[40] = attrs.evolve(batch[40], entry="poison")
    result = ingest([encode_order(o) for o in batch])
    assert result.inserted == {f"order{i}" for i in range(64)} - {"order5", "order40"}
    assert [r.index for r in result.rejected] == [5, 40]
    assert all("refused by the store" in r.reason for r in result.rejected)
    # Bisection: far fewer transactions than one per order.
    assert repository.saves <= 2 * 2 * 7


def test_when_the_first_copy_is_refused_the_next_copy_gets_its_turn() -> None:
    repository = FakeRepository()
    repository.refuses = lambda o: o.order.entry == "poison"
    ingest = SaveThenCache(repository, CacheGateway(FakeCache()))
    poison = attrs.evolve(_sample_like(1), entry="poison")
    fine = _sample_like(1)
    result = ingest([encode_order(poison), encode_order(fine), encode_order(fine)])
    assert result.inserted == {"order1"}
    assert [r.index for r in result.rejected] == [0]
    assert result.already_stored == 1
    assert result.accepted == ((1, "order1"), (2, "order1"))


def test_a_store_failure_that_no_retry_mends_propagates(sample_bytes: bytes) -> None:
    service = Service()
    service.repository.failure = RepositoryFailed("permission denied for table orders")
    with pytest.raises(RepositoryFailed):
        service.ingest([sample_bytes])


def test_memory_answers_alone_without_blocking(sample_bytes: bytes) -> None:
    service = Service()
    assert service.lookup.answer_from_memory(SAMPLE_ID) is None  # a miss: nothing read
    assert service.repository.reads == 0
    assert service.lookup.get_document(SAMPLE_ID) is None
    answer = service.lookup.answer_from_memory(SAMPLE_ID)
    assert answer is not None
    assert answer.document is None
    service.ingest([sample_bytes])
    answer = service.lookup.answer_from_memory(SAMPLE_ID)
    assert answer is not None
    assert answer.document == encode_order(decode_order(sample_bytes))
    assert service.repository.reads == 1


def test_the_result_maps_messages_to_order_ids(sample_bytes: bytes) -> None:
    service = Service()
    result = service.ingest([b"junk", sample_bytes, sample_bytes])
    assert result.accepted == ((1, SAMPLE_ID), (2, SAMPLE_ID))


class ReadThenWaitRepository(FakeRepository):
    """A read that looks first and answers later, as a slow query would."""

    def __init__(self) -> None:
        super().__init__()
        self.looked = threading.Event()
        self.gate = threading.Event()

    def get_document(self, order_uid: str) -> bytes | None:
        found = super().get_document(order_uid)
        self.looked.set()
        self.gate.wait(5)
        return found


def test_a_lookup_begun_after_a_save_never_shares_an_older_read(sample_bytes: bytes) -> None:
    repository = ReadThenWaitRepository()
    cache = CacheGateway(FakeCache(), negative_ttl=0)
    ingest, lookup = SaveThenCache(repository, cache), CacheThenRepository(repository, cache)
    early: list[bytes | None] = []
    before = threading.Thread(target=lambda: early.append(lookup.get_document(SAMPLE_ID)))
    before.start()
    repository.looked.wait(5)  # the early read has looked: absent
    cache.reset()  # and the save's cache write is lost, as in a cache outage
    ingest([sample_bytes])
    cache.reset()
    repository.looked.clear()
    later: list[bytes | None] = []
    after = threading.Thread(target=lambda: later.append(lookup.get_document(SAMPLE_ID)))
    after.start()
    repository.looked.wait(5)
    repository.gate.set()
    before.join(5)
    after.join(5)
    assert early == [None]  # it began before the save: absent was right then
    assert later[0] is not None  # it began after: it must see the order


def test_a_batch_with_nothing_to_cache_spends_no_circuit_trial() -> None:
    clock = [0.0]
    cache = FakeCache()
    breaker = CircuitBreaker("cache", reset_after=5, clock=lambda: clock[0])
    gateway = CacheGateway(cache, breaker=breaker)
    ingest = SaveThenCache(FakeRepository(), gateway)
    cache.failing = True
    gateway.fill("someid", b"{}")  # fails: the circuit opens
    assert breaker.is_open
    clock[0] += 6
    ingest([b"not json", b"{}"])  # all invalid: nothing to write
    assert breaker.state == "open"  # the trial is still there for a real call
