"""The OrderCache contract (tests/contracts/cache.py) against Memcached and Redis on the
real servers, alone and behind the near cache; then what only those backends do.

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

import pytest
from pymemcache.client.base import Client

from adapters.caches.memcached import MemcachedOrderCache
from adapters.caches.memory import InMemoryOrderCache
from adapters.caches.near import NearCachedOrderCache
from adapters.caches.redis import RedisOrderCache
from order_core.errors import CacheUnavailable
from order_core.ports import OrderCache
from tests.contracts.cache import *  # noqa: F403 - the contract's tests
from tests.contracts.cache import CacheFactory, new_key, new_prefix
from tests.support import free_port

pytestmark = pytest.mark.integration

MEMCACHED_SERVERS = [
    s for s in re.split(r"[,\s]+", os.environ.get("ORDER_SERVICE_MEMCACHED_SERVERS", "")) if s
] or ["127.0.0.1:11211"]
REDIS_URL = os.environ.get("ORDER_SERVICE_REDIS_URL") or "redis://127.0.0.1:6379/0"
# The cluster suite (scripts/test-cluster.sh) runs this module against a Redis Cluster.
REDIS_CLUSTER = os.environ.get("ORDER_SERVICE_REDIS_CLUSTER", "") == "true"
# Nothing listens on port 1: connections are refused at once.
CLOSED_MEMCACHED = "127.0.0.1:1"
CLOSED_REDIS = "redis://127.0.0.1:1/0"
START_COMMAND = "scripts/services.sh up memcached redis"


@pytest.fixture(params=["memcached", "redis", "memcached+near", "redis+near"])
def make_cache(request: pytest.FixtureRequest) -> Iterator[CacheFactory]:
    """Builds caches of one backend; ``reachable=False`` gives one whose backend is down.

    "+near": the shared cache behind a NearCachedOrderCache, which must keep the contract.
    """
    backend, _, near = str(request.param).partition("+")
    prefix = new_prefix()
    closers: list[Callable[[], None]] = []

    def make(*, default_ttl: float | None = None, reachable: bool = True) -> OrderCache:
        cache: OrderCache
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
                REDIS_URL if reachable else CLOSED_REDIS,
                key_prefix=prefix,
                default_ttl=default_ttl,
                cluster=REDIS_CLUSTER,
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
    cache = RedisOrderCache(REDIS_URL, key_prefix=f"{stem}*:", cluster=REDIS_CLUSTER)
    neighbour = RedisOrderCache(REDIS_URL, key_prefix=f"{stem}x:", cluster=REDIS_CLUSTER)
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
