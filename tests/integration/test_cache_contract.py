"""The OrderCache contract, run unchanged against every backend on the real servers.

Memcached at 127.0.0.1:11211 and Redis at redis://127.0.0.1:6379/0 (start them with
``scripts/services.sh up memcached redis``); ORDER_SERVICE_MEMCACHED_SERVERS (comma
separated "host:port") and ORDER_SERVICE_REDIS_URL point elsewhere. Every test uses its
own key prefix and uuid keys. Memcached's ``clear`` flushes the whole server, so do not
point these tests at a memcached that holds data you want to keep.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Protocol

import pytest
from pymemcache.client.base import Client

from adapters.memcached_cache import MemcachedOrderCache
from adapters.memory_cache import InMemoryOrderCache
from adapters.near_cache import NearCachedOrderCache
from adapters.redis_cache import RedisOrderCache
from order_core.errors import CacheUnavailable
from order_core.ports import OrderCache

pytestmark = pytest.mark.integration

MEMCACHED_SERVERS = [
    s for s in re.split(r"[,\s]+", os.environ.get("ORDER_SERVICE_MEMCACHED_SERVERS", "")) if s
] or ["127.0.0.1:11211"]
REDIS_URL = os.environ.get("ORDER_SERVICE_REDIS_URL") or "redis://127.0.0.1:6379/0"
# Nothing listens on port 1: connections are refused at once.
CLOSED_MEMCACHED = "127.0.0.1:1"
CLOSED_REDIS = "redis://127.0.0.1:1/0"
START_COMMAND = "scripts/services.sh up memcached redis"

BINARY = bytes(range(256)) + b"\r\nEND\r\nVALUE x 0 1\r\n\x00"


class CacheFactory(Protocol):
    def __call__(
        self, *, default_ttl: float | None = None, reachable: bool = True
    ) -> OrderCache: ...


def new_key() -> str:
    return f"t-{uuid.uuid4()}"


def new_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture(params=["memory", "memcached", "redis", "memcached+near", "redis+near"])
def make_cache(request: pytest.FixtureRequest) -> Iterator[CacheFactory]:
    """Builds caches of one backend; ``reachable=False`` gives one whose backend is down.

    "+near": the shared cache behind a NearCachedOrderCache, which must keep the contract.
    """
    backend, _, near = str(request.param).partition("+")
    prefix = new_prefix()
    closers: list[Callable[[], None]] = []

    def make(*, default_ttl: float | None = None, reachable: bool = True) -> OrderCache:
        cache: OrderCache
        if backend == "memory":
            memory = InMemoryOrderCache(default_ttl=default_ttl)
            memory.failing = not reachable
            return memory
        if backend == "memcached":
            memcached = MemcachedOrderCache(
                MEMCACHED_SERVERS if reachable else [CLOSED_MEMCACHED],
                key_prefix=prefix,
                default_ttl=default_ttl,
            )
            closers.append(memcached.close)
            cache, where = memcached, ",".join(MEMCACHED_SERVERS)
        else:
            redis = RedisOrderCache(
                REDIS_URL if reachable else CLOSED_REDIS, key_prefix=prefix, default_ttl=default_ttl
            )
            closers.append(redis.close)
            cache, where = redis, REDIS_URL
        if reachable:
            try:
                cache.get("reachability-check")
            except CacheUnavailable as exc:
                pytest.fail(f"{backend} is not reachable at {where} ({exc}); run {START_COMMAND}")
        if near:
            return NearCachedOrderCache(cache, InMemoryOrderCache(default_ttl=default_ttl))
        return cache

    yield make
    for close in closers:
        close()


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


# ---------------------------------------------------------------- Memcached, two servers


class MemcachedProcess:
    """A memcached of the test's own, on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        binary = shutil.which("memcached")
        if binary is None:
            pytest.fail(
                "the memcached binary is not installed (apt-get install memcached):"
                " the two-server tests start a second memcached of their own"
            )
        self.binary = binary
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # In the foreground (no -d): the test holds the process and stops it itself.
        self.process = subprocess.Popen(
            [self.binary, "-u", "nobody", "-l", "127.0.0.1", "-p", str(self.port), "-m", "64"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read() if self.process.stderr else b""
                pytest.fail(f"memcached on port {self.port} exited: {stderr.decode()!r}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        self.stop()
        pytest.fail(f"memcached did not listen on port {self.port} within 5 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # holds nothing worth a graceful stop, which takes a second
            self.process.wait(timeout=5)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def client(self, key_prefix: str) -> Client:
        return Client(("127.0.0.1", self.port), key_prefix=key_prefix.encode(), timeout=1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def second_memcached() -> Iterator[MemcachedProcess]:
    process = MemcachedProcess()
    process.start()
    yield process
    process.stop()


@pytest.fixture
def first_memcached_client() -> Iterator[Callable[[str], Client]]:
    host, _, port = MEMCACHED_SERVERS[0].rpartition(":")
    clients: list[Client] = []

    def make(key_prefix: str) -> Client:
        client = Client((host.strip("[]"), int(port)), key_prefix=key_prefix.encode(), timeout=1)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_memcached_spreads_keys_over_two_servers(
    second_memcached: MemcachedProcess, first_memcached_client: Callable[[str], Client]
) -> None:
    prefix = new_prefix()
    cache = MemcachedOrderCache([MEMCACHED_SERVERS[0], second_memcached.address], key_prefix=prefix)
    entries = {new_key(): os.urandom(20) for _ in range(200)}
    first, second = first_memcached_client(prefix), second_memcached.client(prefix)
    try:
        cache.set_many(entries)

        assert {k: cache.get(k) for k in entries} == entries
        on_first = {k for k in entries if first.get(k) == entries[k]}
        on_second = {k for k in entries if second.get(k) == entries[k]}
        assert on_first.isdisjoint(on_second)
        assert on_first | on_second == set(entries)
        assert len(on_first) > 40
        assert len(on_second) > 40

        cache.delete_many(list(entries))
        assert all(cache.get(k) is None for k in entries)

        cache.set_many(entries)
        cache.clear()
        assert all(cache.get(k) is None for k in entries)
        assert all(second.get(k) is None for k in on_second)
    finally:
        second.close()
        cache.close()


def test_memcached_server_that_is_down_fails_loudly_and_keeps_its_share(
    second_memcached: MemcachedProcess, first_memcached_client: Callable[[str], Client]
) -> None:
    prefix = new_prefix()
    # The server that goes down comes first: the others must still get their share.
    cache = MemcachedOrderCache([second_memcached.address, MEMCACHED_SERVERS[0]], key_prefix=prefix)
    first, second = first_memcached_client(prefix), second_memcached.client(prefix)
    keys = [new_key() for _ in range(40)]
    try:
        cache.set_many(dict.fromkeys(keys, b"x"))
        dead = [k for k in keys if second.get(k) == b"x"]
        live = [k for k in keys if k not in dead]
        assert len(dead) >= 3
        assert len(live) >= 3
        second.close()
        second_memcached.stop()

        for _round in range(5):  # never dropped from the ring, however often it fails
            with pytest.raises(CacheUnavailable):
                cache.get(dead[0])
            with pytest.raises(CacheUnavailable):
                cache.add(dead[0], b"moved?")
            with pytest.raises(CacheUnavailable):
                cache.delete_many([dead[0]])
            assert cache.get(live[0]) == b"x"
        assert first.get(dead[0]) is None  # its keys did not move to the server that is up

        # Writes across both servers fail, yet do their share on the server that is up.
        with pytest.raises(CacheUnavailable):
            cache.set_many({dead[1]: b"new", live[1]: b"new"})
        assert cache.get(live[1]) == b"new"
        with pytest.raises(CacheUnavailable):
            cache.delete_many([dead[1], live[1]])
        assert cache.get(live[1]) is None
        with pytest.raises(CacheUnavailable):
            cache.clear()
        assert cache.get(live[2]) is None

        second_memcached.start()  # back, and empty: the pooled connections recover
        assert cache.get(dead[2]) is None
        cache.set_many({dead[2]: b"back"})
        assert cache.get(dead[2]) == b"back"
    finally:
        cache.close()


def test_memcached_refuses_a_value_over_its_item_limit_and_drops_the_old_one() -> None:
    cache = MemcachedOrderCache(MEMCACHED_SERVERS, key_prefix=new_prefix())
    key = new_key()
    try:
        cache.set_many({key: b"old"})
        with pytest.raises(CacheUnavailable, match="too large"):
            cache.set_many({key: b"x" * (2 * 1024 * 1024)})
        assert cache.get(key) is None
    finally:
        cache.close()


# ---------------------------------------------------------------- Redis


def test_redis_clear_removes_only_its_own_prefix() -> None:
    stem = f"test-{uuid.uuid4().hex[:12]}"
    # A glob character in the prefix must not widen what clear() matches.
    cache = RedisOrderCache(REDIS_URL, key_prefix=f"{stem}*:")
    neighbour = RedisOrderCache(REDIS_URL, key_prefix=f"{stem}x:")
    key = new_key()
    try:
        cache.set_many({key: b"mine"})
        neighbour.set_many({key: b"theirs"})

        cache.clear()

        assert cache.get(key) is None
        assert neighbour.get(key) == b"theirs"
    finally:
        neighbour.clear()
        cache.close()
        neighbour.close()
