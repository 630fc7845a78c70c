"""One wrk run against a URL: ``bench/lookup.lua`` asks for the ids of a file round-robin,
closed loop or paced at a fixed rate, and prints its figures as JSON, read back here as a
``WrkResult`` (requests, duration, latency percentiles); a failed request voids the run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import attrs

from bench.environment import Disturbed

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
