"""Lookup throughput and latency: wrk against a real ``order-service http`` process.

Four scenarios, with one HTTP worker process by default (``--workers 1 2`` adds two):
- memory hit: the in-process cache warmed (by every worker) with the ids that wrk asks for;
- memcached hit, redis hit: the same with the shared cache, and its near cache (the
  in-process copy of the orders it served, on by default) in front;
- miss: a memory cache of one entry, no negative caching and ids that all exist, asked for
  round-robin, so every request reads PostgreSQL (checked with the service's own metrics).
Closed loop at fixed concurrencies (wrk keeps N connections busy), then, with one worker, a
paced sweep at fractions of the highest closed-loop rate for the latency-against-load plot.

And two reference apps (``bench.reference_apps``) under the same wrk load, each a process of
its own (``ReferenceProcess``), on uvicorn with the service's server settings (or on
granian), answering every request with one order's document: a bare ASGI callable (the
ceiling of the server) and one minimal Starlette route.

One wrk run (``run_wrk``): ``bench/lookup.lua`` asks for the ids of a file round-robin,
closed loop or paced at a fixed rate, and prints its figures as JSON, read back as a
``WrkResult`` (requests, duration, latency percentiles); a failed request voids the run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import median

import attrs

from bench.environment import ROOT, Disturbed
from bench.machine import children, cpu_seconds
from bench.processes import ServiceProcess, free_port, http_ok, python_path, terminate

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


class ReferenceProcess:
    """A reference ASGI app of ``bench.reference_apps``, one worker, no access log: on
    uvicorn with the service's own server settings (uvloop, httptools), or on granian
    (uvloop) given the path of its executable."""

    def __init__(
        self, app: str, body_file: Path, log_dir: Path, granian: str | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        where = ["--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"]
        if granian is None:
            args = [
                sys.executable, "-m", "uvicorn", f"bench.reference_apps:{app}", *where,
                "--loop", "uvloop", "--http", "httptools", "--log-level", "warning",
                "--lifespan", "off",
            ]  # fmt: skip
        else:
            args = [
                granian, "--interface", "asginl", "--loop", "uvloop", "--workers", "1", *where,
                "--log-level", "warning", f"bench.reference_apps:{app}",
            ]  # fmt: skip
        self.log_path = log_dir / f"reference-{app}-{self.port}.log"
        self._log = self.log_path.open("wb")
        env = {**os.environ, "BENCH_BODY_FILE": str(body_file), **python_path()}
        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    def __enter__(self) -> ReferenceProcess:
        deadline = time.monotonic() + 30
        while not http_ok(self.url + "/order?id=x"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"the reference app did not start; see {self.log_path}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        terminate(self.process)
        self._log.close()


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
