"""Lookup throughput and latency: wrk against a real ``order-service http`` process.

Four scenarios, with one HTTP worker process by default (``--workers 1 2`` adds two):
- memory hit: the in-process cache warmed (by every worker) with the ids that wrk asks for;
- memcached hit, redis hit: the same with the shared cache, and its near cache (the
  in-process copy of the orders it served, on by default) in front;
- miss: a memory cache of one entry, no negative caching and ids that all exist, asked for
  round-robin, so every request reads PostgreSQL (checked with the service's own metrics).
Closed loop at fixed concurrencies (wrk keeps N connections busy), then, with one worker, a
paced sweep at fractions of the highest closed-loop rate for the latency-against-load plot.

And two reference apps (``bench.reference_apps``) under the same wrk load, on uvicorn with
the service's server settings, answering every request with one order's document: a bare
ASGI callable (the ceiling of the server) and one minimal Starlette route.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.cpu import children, cpu_seconds
from bench.environment import Disturbed
from bench.lookup_scenarios import (
    ON_GRANIAN,
    REFERENCE_APPS,
    Scenario,
    ScenarioResult,
    SweepPoint,
)
from bench.median import median
from bench.reference_process import ReferenceProcess
from bench.service_process import ServiceProcess
from bench.wrk import WrkResult, run_wrk

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
    sweep_seconds: float,
    say: Callable[[str], None],
) -> tuple[list[ScenarioResult], list[SweepPoint]]:
    """Closed-loop runs at each concurrency and, if ``sweep``, the paced sweep."""
    results: list[ScenarioResult] = []
    points: list[SweepPoint] = []
    settings = {**scenario.settings, "http_workers": workers}
    with ServiceProcess(database_url, log_dir, settings, granian=scenario.granian) as service:
        run_wrk(service.url, ids_file, max(concurrencies), min(seconds, 3.0))  # warm up
        for connections in concurrencies:
            before = cache_lookups(service.url) if workers == 1 else None
            batch, cores = _closed_loop(
                scenario.name,
                service.pid,
                service.url,
                ids_file=ids_file,
                connections=connections,
                seconds=seconds,
                runs=runs,
                say=say,
                workers=workers,
            )
            ratio = None
            if before is not None:
                after = cache_lookups(service.url)
                hits = after.get("hit", 0) - before.get("hit", 0)
                total = hits + after.get("miss", 0) - before.get("miss", 0)
                ratio = hits / total if total else None
                if scenario.is_hit and (ratio or 0) < 0.99:
                    raise Disturbed(f"hit ratio {ratio}: the cache lost entries (restarted?)")
            results.append(ScenarioResult(scenario.name, workers, connections, batch, ratio, cores))
        if sweep:
            peak = max(median([r.rate for r in res.runs]) for res in results)
            for fraction in sweep:
                batch = []
                for _ in range(runs):
                    result = run_wrk(
                        service.url,
                        ids_file,
                        sweep_connections,
                        sweep_seconds,
                        rate=peak * fraction,
                    )
                    batch.append(result)
                say(
                    f"  {scenario.name:28} paced {fraction:4.0%} of {peak:,.0f}: "
                    f"{median([r.rate for r in batch]):8,.0f} req/s  "
                    f"p99 {median([r.latency_ms['p99'] for r in batch]):6.2f} ms"
                )
                points.append(SweepPoint(scenario.name, fraction, batch))
    return results, points


def _closed_loop(
    name: str,
    pid: int,
    url: str,
    *,
    ids_file: Path,
    connections: int,
    seconds: float,
    runs: int,
    say: Callable[[str], None],
    workers: int = 1,
) -> tuple[list[WrkResult], list[float]]:
    """``runs`` closed-loop wrk runs; each with the CPU the server used meanwhile."""
    batch: list[WrkResult] = []
    cores: list[float] = []
    for index in range(runs):
        pids = [pid, *children(pid)]
        cpu_before = cpu_seconds(pids)
        result = run_wrk(url, ids_file, connections, seconds)
        cores.append((cpu_seconds(pids) - cpu_before) / result.seconds)
        say(
            f"  {name:28} workers={workers} c={connections:<3} run {index + 1}: "
            f"{result.rate:8,.0f} req/s  p99 {result.latency_ms['p99']:6.2f} ms  "
            f"server {cores[-1]:.2f} cores"
        )
        batch.append(result)
    return batch, cores


def measure_reference(
    *,
    name: str,
    granian: str | None = None,
    body_file: Path,
    ids_file: Path,
    log_dir: Path,
    connections: int,
    seconds: float,
    runs: int,
    say: Callable[[str], None],
) -> ScenarioResult:
    """Closed-loop runs against one of the reference apps."""
    label = name + (ON_GRANIAN if granian else "")
    with ReferenceProcess(REFERENCE_APPS[name], body_file, log_dir, granian) as app:
        run_wrk(app.url, ids_file, connections, min(seconds, 3.0))  # warm up
        batch, cores = _closed_loop(
            label,
            app.pid,
            app.url,
            ids_file=ids_file,
            connections=connections,
            seconds=seconds,
            runs=runs,
            say=say,
        )
    return ScenarioResult(label, 1, connections, batch, None, cores)
