"""What the lookup phase measures and what it records: the service's scenarios (memory,
Memcached and Redis hits, misses) with the settings each needs, the names of the reference
apps, and the results of closed-loop runs and of the paced sweep.
"""

from __future__ import annotations

import attrs

from bench.wrk import WrkResult


@attrs.frozen
class Scenario:
    name: str
    settings: dict[str, object]
    is_hit: bool
    granian: str | None = None  # run on granian (this executable) rather than uvicorn


MEMORY_HIT, MEMCACHED_HIT, REDIS_HIT, MISS = (
    "memory hit",
    "memcached hit",
    "redis hit",
    "miss (PostgreSQL)",
)
BARE_ASGI, MINIMAL_STARLETTE = "reference: bare ASGI", "reference: minimal Starlette"
REFERENCE_APPS = {BARE_ASGI: "bare_asgi", MINIMAL_STARLETTE: "minimal_starlette"}
ON_GRANIAN = " on granian"  # suffix of the scenarios run on granian (--granian)


def scenarios(ids: int) -> list[Scenario]:
    """The service's scenarios, default settings but for what each scenario needs."""
    warm = {"warm_up_orders": ids, "warm_up_timeout": 120}
    return [
        Scenario(MEMORY_HIT, {"cache_backend": "memory", **warm}, is_hit=True),
        Scenario(MEMCACHED_HIT, {"cache_backend": "memcached", **warm}, is_hit=True),
        Scenario(REDIS_HIT, {"cache_backend": "redis", **warm}, is_hit=True),
        Scenario(
            MISS,
            {"cache_backend": "memory", "cache_max_entries": 1, "negative_ttl": 0},
            is_hit=False,
        ),
    ]


@attrs.define
class ScenarioResult:
    scenario: str
    workers: int
    connections: int
    runs: list[WrkResult]
    hit_ratio: float | None  # share of requests answered from the cache (one worker only)
    server_cores: list[float] = attrs.Factory(list)  # CPU the server used, per run, in cores


@attrs.define
class SweepPoint:
    scenario: str
    fraction: float
    runs: list[WrkResult]
