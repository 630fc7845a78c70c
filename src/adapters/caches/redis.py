"""An OrderCache on Redis, through redis-py's synchronous client and connection pool."""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from adapters.caches.limits import (
    DEFAULT_KEY_PREFIX,
    DEFAULT_MAX_VALUE_BYTES,
    DEFAULT_TIMEOUT,
    SharedCacheOptions,
    check_ttl,
)
from order_core.errors import CacheUnavailable

# Keys per DEL/UNLINK, and the COUNT hint of SCAN: bounded work per round trip.
_BATCH = 500
_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "*?[]\\"})


class RedisOrderCache(SharedCacheOptions):
    """Redis as an OrderCache; safe to share between threads (one pool of connections).

        Every key is ``key_prefix + order id``; ``clear`` removes just the keys under the
        prefix, with SCAN and UNLINK (never FLUSHDB), so the database may hold other data.
        Entries written while ``clear`` runs may survive it (on a
    Redis Cluster, ``clear`` scans every primary). A failed command is retried once
        on a new connection (a pooled one may be stale after a Redis restart); after that, any
        failure raises CacheUnavailable. Run Redis with ``maxmemory`` and an eviction policy
        such as ``allkeys-lru`` for it to behave as a cache.
    """

    backend = "redis"
    local = False

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        connect_timeout: float = DEFAULT_TIMEOUT,
        timeout: float = DEFAULT_TIMEOUT,
        default_ttl: float | None = None,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
        cluster: bool = False,
    ) -> None:
        """``url``: as redis-py's from_url, e.g. "redis://host:6379/0". Opens no connection.

        ``cluster``: the URL names one node of a Redis Cluster (database 0); the client
        learns the others and the slots from it, sends each key to its slot's primary, and
        after a failover (MOVED, or a dead node) reloads the slots and retries once. A
        pipeline of writes goes out as one batch per primary."""
        if not key_prefix:
            raise ValueError("key_prefix must not be empty: clear() deletes what it matches")
        self._keep_options(key_prefix, default_ttl, max_value_bytes)
        timeouts = {"socket_connect_timeout": connect_timeout, "socket_timeout": timeout}
        self._made: redis.Redis | RedisCluster | None = None
        self._making = threading.Lock()
        if cluster:
            # RedisCluster reads the slots from a node as it is built: built on first use,
            # so that the service starts while the cluster is away, and a failed attempt
            # is one CacheUnavailable, tried again on the next call.
            self._make = functools.partial(
                RedisCluster.from_url, url, retry=Retry(NoBackoff(), 1), **timeouts
            )
        else:
            self._made = redis.Redis.from_url(url, retry=Retry(NoBackoff(), 1), **timeouts)

    @property
    def _client(self) -> redis.Redis | RedisCluster:
        made = self._made
        if made is None:
            with self._making:
                if self._made is None:
                    self._made = self._make()
                made = self._made
        return made

    def get(self, key: str) -> bytes | None:
        with _failures_raise("GET"):
            value = self._client.get(self.key_prefix + key)
        if value is None or isinstance(value, bytes):
            return value
        raise CacheUnavailable(f"redis returned {type(value).__name__}, not bytes")

    def peek(self, key: str) -> bytes | None:
        return None  # nothing held in process memory: a NearCachedOrderCache adds that

    def set_many(self, entries: Mapping[str, bytes], ttl: float | None = None) -> None:
        px = self._px(ttl)
        if not entries:
            return
        with _failures_raise("SET"), self._client.pipeline(transaction=False) as pipe:
            for key, value in entries.items():
                pipe.set(self.key_prefix + key, value, px=px)
            pipe.execute()

    def add(self, key: str, value: bytes, ttl: float | None = None) -> None:
        px = self._px(ttl)
        with _failures_raise("SET NX"):
            # None when the key is already there: that is the point of add.
            self._client.set(self.key_prefix + key, value, px=px, nx=True)

    def delete_many(self, keys: Sequence[str]) -> None:
        with _failures_raise("DEL"):
            for start in range(0, len(keys), _BATCH):
                self._client.delete(*(self.key_prefix + k for k in keys[start : start + _BATCH]))

    def clear(self) -> None:
        pattern = self.key_prefix.translate(_GLOB_SPECIAL) + "*"
        with _failures_raise("SCAN/UNLINK"):
            batch: list[bytes] = []
            for key in self._client.scan_iter(match=pattern, count=_BATCH):
                batch.append(key)
                if len(batch) >= _BATCH:
                    self._client.unlink(*batch)
                    batch.clear()
            if batch:
                self._client.unlink(*batch)

    def close(self) -> None:
        """Close the pool's connections; a later call reconnects."""
        if self._made is not None:
            self._made.close()

    def _px(self, ttl: float | None) -> int | None:
        check_ttl(ttl)
        ttl = self.default_ttl if ttl is None else ttl
        if ttl is None:
            return None  # never
        return max(1, math.ceil(ttl * 1000))


@contextmanager
def _failures_raise(command: str) -> Iterator[None]:
    """Turn any failure of redis-py or of the socket into CacheUnavailable."""
    try:
        yield
    except (redis.RedisError, RedisClusterException, OSError) as exc:
        raise CacheUnavailable(f"redis {command} failed: {exc!r}") from exc
