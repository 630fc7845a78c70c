"""An OrderCache on Memcached, through pymemcache; several servers share the keys."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any, TypeVar

from pymemcache.client.base import PooledClient
from pymemcache.client.rendezvous import RendezvousHash
from pymemcache.exceptions import MemcacheError

from adapters.caches.limits import (
    DEFAULT_KEY_PREFIX,
    DEFAULT_MAX_VALUE_BYTES,
    DEFAULT_TIMEOUT,
    SharedCacheOptions,
    check_ttl,
)
from order_core.errors import CacheUnavailable

# memcached reads an expiry above 30 days as a Unix time rather than as seconds from now.
_MAX_RELATIVE_EXPIRY = 30 * 24 * 3600
# Keys per request: the replies of a pipelined batch must fit in the socket buffers.
_BATCH = 500

_T = TypeVar("_T")


class MemcachedOrderCache(SharedCacheOptions):
    """Memcached as an OrderCache; safe to share between threads.

    With several servers, each key lives on exactly one, chosen by rendezvous
    (highest-random-weight) hashing, the hashing pymemcache's HashClient uses: adding or
    removing a server moves only that server's share of the keys. Unlike HashClient, a
    failing server is never dropped from the ring nor skipped: every failure (connection,
    timeout, protocol error, an entry the server refused) raises CacheUnavailable, so the
    caller knows which writes to repair. HashClient instead returns defaults while it
    retries a failing server (a delete that did not happen looks like one that did) and
    moves the keys of a dead server elsewhere, to come back stale when it returns.

    Writes touching several servers are tried on all of them before raising, so a dead
    server costs only its own share. ``clear`` flushes every server entirely, not just
    this prefix: give the service memcached servers of its own.

    TTLs are whole seconds (fractions round up) and memcached's clock ticks once a second,
    so an entry lives between ``ceil(ttl) - 1`` and ``ceil(ttl)`` seconds.
    """

    backend = "memcached"
    local = False

    def __init__(
        self,
        servers: Sequence[str],
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        connect_timeout: float = DEFAULT_TIMEOUT,
        timeout: float = DEFAULT_TIMEOUT,
        default_ttl: float | None = None,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    ) -> None:
        """``servers``: "host:port" strings ("[::1]:11211" for IPv6). Opens no connection."""
        if not servers:
            raise ValueError("at least one memcached server is needed")
        self._keep_options(key_prefix, default_ttl, max_value_bytes)
        self._ring = RendezvousHash()
        self._clients: dict[str, Any] = {}  # pymemcache is untyped
        for spec in servers:
            host, port = _parse_server(spec)
            name = f"{host}:{port}"
            if name in self._clients:
                continue
            self._ring.add_node(name)
            # A pool per server: the HTTP app calls from many threads. noreply is off so
            # that every command waits for the server's answer.
            self._clients[name] = PooledClient(
                (host, port),
                connect_timeout=connect_timeout,
                timeout=timeout,
                no_delay=True,
                default_noreply=False,
            )

    @property
    def servers(self) -> list[str]:
        """The servers, as "host:port"."""
        return list(self._clients)

    def get(self, key: str) -> bytes | None:
        full_key = self.key_prefix + key
        with _failures_raise("get"):
            value = self._client_for(full_key).get(full_key)
        if value is None or isinstance(value, bytes):
            return value
        raise CacheUnavailable(f"memcached returned {type(value).__name__}, not bytes")

    def peek(self, key: str) -> bytes | None:
        return None  # nothing held in process memory: a NearCachedOrderCache adds that

    def set_many(self, entries: Mapping[str, bytes], ttl: float | None = None) -> None:
        expire = self._expire(ttl)
        by_server: dict[str, dict[str, bytes]] = {}
        for key, value in entries.items():
            full_key = self.key_prefix + key
            by_server.setdefault(self._server(full_key), {})[full_key] = value
        errors: list[CacheUnavailable] = []
        for server, batch in by_server.items():
            for chunk in _chunks(batch.items(), _BATCH):
                try:
                    with _failures_raise("set"):
                        failed = self._clients[server].set_many(
                            dict(chunk), expire=expire, noreply=False
                        )
                    if failed:
                        raise CacheUnavailable(
                            f"memcached {server} stored {len(chunk) - len(failed)}"
                            f" of {len(chunk)} entries"
                        )
                except CacheUnavailable as exc:
                    errors.append(exc)
        _raise_first(errors)

    def add(self, key: str, value: bytes, ttl: float | None = None) -> None:
        expire = self._expire(ttl)
        full_key = self.key_prefix + key
        with _failures_raise("add"):
            # False when the key is already there: that is the point of add.
            self._client_for(full_key).add(full_key, value, expire=expire, noreply=False)

    def delete_many(self, keys: Sequence[str]) -> None:
        by_server: dict[str, list[str]] = {}
        for key in keys:
            full_key = self.key_prefix + key
            by_server.setdefault(self._server(full_key), []).append(full_key)
        errors: list[CacheUnavailable] = []
        for server, batch in by_server.items():
            for chunk in _chunks(batch, _BATCH):
                try:
                    with _failures_raise("delete"):
                        self._clients[server].delete_many(chunk, noreply=False)
                except CacheUnavailable as exc:
                    errors.append(exc)
        _raise_first(errors)

    def clear(self) -> None:
        errors: list[CacheUnavailable] = []
        for client in self._clients.values():
            try:
                with _failures_raise("flush_all"):
                    client.flush_all(noreply=False)
            except CacheUnavailable as exc:
                errors.append(exc)
        _raise_first(errors)

    def close(self) -> None:
        """Close every pooled connection; a later call reconnects."""
        for client in self._clients.values():
            client.close()

    def _server(self, full_key: str) -> str:
        node: str = self._ring.get_node(full_key)
        return node

    def _client_for(self, full_key: str) -> Any:
        return self._clients[self._server(full_key)]

    def _expire(self, ttl: float | None) -> int:
        check_ttl(ttl)
        ttl = self.default_ttl if ttl is None else ttl
        if ttl is None:
            return 0  # never
        seconds = max(1, math.ceil(ttl))
        if seconds > _MAX_RELATIVE_EXPIRY:
            return int(time.time()) + seconds
        return seconds


@contextmanager
def _failures_raise(command: str) -> Iterator[None]:
    """Turn any failure of pymemcache or of the socket into CacheUnavailable."""
    try:
        yield
    except (MemcacheError, OSError) as exc:  # OSError covers refused, reset and timeouts
        raise CacheUnavailable(f"memcached {command} failed: {exc!r}") from exc


def _raise_first(errors: list[CacheUnavailable]) -> None:
    if errors:
        raise errors[0]


def _chunks(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _parse_server(spec: str) -> tuple[str, int]:
    host, _, port = spec.strip().rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        raise ValueError(f"a memcached server is 'host:port', not {spec!r}")
    return host, int(port)
