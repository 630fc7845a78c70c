"""Memory of the in-process cache: resident memory of the server before and after a warm-up.

The service is started with an admin token and an empty memory cache; a small warm-up and a
reset first run every code path once (the pool, the drivers, the warm-up itself), so the
difference is what the cached orders hold, allocator slack included.
"""

from __future__ import annotations

import time
import urllib.request
import uuid
from pathlib import Path

import attrs
import orjson
import psycopg

from bench.processes import ServiceProcess


@attrs.frozen
class MemoryRun:
    orders: int  # orders loaded into the cache
    rss_before: int
    rss_after: int
    avg_json_bytes: float  # mean size of the cached JSON documents

    @property
    def bytes_per_order(self) -> float:
        return (self.rss_after - self.rss_before) / self.orders

    @property
    def ratio(self) -> float:
        return self.bytes_per_order / self.avg_json_bytes


def _post(url: str, token: str) -> dict[str, object]:
    # The URL is our own loopback http:// one.
    request = urllib.request.Request(  # noqa: S310
        url, method="POST", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310
        result: dict[str, object] = orjson.loads(response.read())
    return result


def average_json_bytes(database_url: str, orders: int) -> float:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT avg(octet_length(document::text)) FROM"
            " (SELECT document FROM orders ORDER BY seq DESC LIMIT %s) recent",
            (orders,),
        ).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def measure(database_url: str, orders: int, log_dir: Path) -> MemoryRun:
    token = uuid.uuid4().hex
    settings = {
        "cache_backend": "memory",
        "cache_max_entries": orders,
        "cache_max_bytes": 4 * 2**30,  # room for every order: the point is what each costs
        "admin_token": token,
    }
    with ServiceProcess(database_url, log_dir, settings) as service:
        _post(service.url + "/admin/cache/warm?limit=500", token)
        _post(service.url + "/admin/cache/reset", token)
        time.sleep(0.5)
        before = service.rss_bytes()
        loaded = _post(service.url + f"/admin/cache/warm?limit={orders}", token)["loaded"]
        time.sleep(0.5)
        after = service.rss_bytes()
    if loaded != orders:
        raise RuntimeError(f"the warm-up loaded {loaded} orders, not {orders}")
    return MemoryRun(orders, before, after, average_json_bytes(database_url, orders))
