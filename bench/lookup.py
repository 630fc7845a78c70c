"""Lookup throughput and latency: wrk against a real ``order-service http`` process.

Three scenarios, each with 1 and 2 HTTP worker processes:
- memory hit: the in-process cache warmed (by every worker) with the ids that wrk asks for;
- memcached hit: the same with Memcached;
- miss: a memory cache of one entry, no negative caching and ids that all exist, asked for
  round-robin, so every request reads PostgreSQL (checked with the service's own metrics).
Closed loop at fixed concurrencies (wrk keeps N connections busy), then, with one worker, a
paced sweep at fractions of the highest closed-loop rate for the latency-against-load plot.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from bench.environment import Disturbed, ServiceProcess

LUA = Path(__file__).resolve().parent / "lookup.lua"
WRK_THREADS = 1  # the server needs the other core; one wrk thread drives well over 20k req/s


@attrs.frozen
class WrkResult:
    connections: int
    target_rate: float | None  # None: closed loop
    requests: int
    seconds: float
    errors: int
    latency_ms: dict[str, float]  # mean, p50, p90, p99, p99.9, max

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def run_wrk(
    url: str, ids_file: Path, connections: int, seconds: float, rate: float | None = None
) -> WrkResult:
    env = dict(os.environ)
    env.pop("BENCH_RATE_PER_THREAD", None)
    if rate:
        env["BENCH_RATE_PER_THREAD"] = f"{rate / WRK_THREADS:.3f}"
    args = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(LUA),
        url,
        "--",
        str(ids_file),
    ]
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    match = re.search(r"^BENCH_JSON (.*)$", out.stdout, re.MULTILINE)
    if out.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout}")
    data = json.loads(match.group(1))
    errors = sum(data["errors"].values())
    if errors:
        raise Disturbed(f"{errors} failed requests: {data['errors']}")
    return WrkResult(
        connections=connections,
        target_rate=rate,
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        errors=errors,
        latency_ms={k: v / 1000 for k, v in data["latency_us"].items()},
    )


_LOOKUPS = re.compile(
    r'^order_service_cache_lookups_total\{[^}]*result="(\w+)"[^}]*\} (\S+)$', re.MULTILINE
)


def cache_lookups(url: str) -> dict[str, float]:
    """The service's own count of cache hits and misses (of the worker that answers)."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:  # noqa: S310 (loopback)
        text = response.read().decode()
    totals: dict[str, float] = {}
    for result, value in _LOOKUPS.findall(text):
        totals[result] = totals.get(result, 0.0) + float(value)
    return totals


@attrs.frozen
class Scenario:
    name: str
    settings: dict[str, object]
    is_hit: bool


def scenarios(ids: int) -> list[Scenario]:
    warm = {"warm_up_orders": ids, "warm_up_timeout": 120}
    return [
        Scenario("memory hit", {"cache_backend": "memory", **warm}, is_hit=True),
        Scenario("memcached hit", {"cache_backend": "memcached", **warm}, is_hit=True),
        Scenario(
            "miss (PostgreSQL)",
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


@attrs.define
class SweepPoint:
    scenario: str
    fraction: float
    runs: list[WrkResult]


def measure(
    *,
    database_url: str,
    ids_file: Path,
    log_dir: Path,
    scenario: Scenario,
    workers: int,
    concurrencies: Sequence[int],
    seconds: float,
    runs: int,
    sweep: Sequence[float],
    sweep_connections: int,
    say: Callable[[str], None],
) -> tuple[list[ScenarioResult], list[SweepPoint]]:
    """Closed-loop runs at each concurrency and, if ``sweep``, the paced sweep."""
    results: list[ScenarioResult] = []
    points: list[SweepPoint] = []
    settings = {**scenario.settings, "http_workers": workers, "db_pool_size": 10}
    with ServiceProcess(database_url, log_dir, **settings) as service:
        run_wrk(service.url, ids_file, max(concurrencies), min(seconds, 3.0))  # warm up
        for connections in concurrencies:
            before = cache_lookups(service.url) if workers == 1 else None
            batch = []
            for index in range(runs):
                result = run_wrk(service.url, ids_file, connections, seconds)
                say(
                    f"  {scenario.name:18} workers={workers} c={connections:<3} run {index + 1}: "
                    f"{result.rate:8,.0f} req/s  p99 {result.latency_ms['p99']:6.2f} ms"
                    + (f"  ERRORS {result.errors}" if result.errors else "")
                )
                batch.append(result)
            ratio = None
            if before is not None:
                after = cache_lookups(service.url)
                hits = after.get("hit", 0) - before.get("hit", 0)
                total = hits + after.get("miss", 0) - before.get("miss", 0)
                ratio = hits / total if total else None
                if scenario.is_hit and (ratio or 0) < 0.99:
                    raise Disturbed(f"hit ratio {ratio}: the cache lost entries (restarted?)")
            results.append(ScenarioResult(scenario.name, workers, connections, batch, ratio))
        if sweep:
            peak = max(median([r.rate for r in res.runs]) for res in results)
            for fraction in sweep:
                batch = []
                for _ in range(runs):
                    result = run_wrk(
                        service.url, ids_file, sweep_connections, seconds, rate=peak * fraction
                    )
                    batch.append(result)
                say(
                    f"  {scenario.name:18} paced {fraction:4.0%} of {peak:,.0f}: "
                    f"{median([r.rate for r in batch]):8,.0f} req/s  "
                    f"p99 {median([r.latency_ms['p99'] for r in batch]):6.2f} ms"
                )
                points.append(SweepPoint(scenario.name, fraction, batch))
    return results, points


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
