"""The two processes that ``bench.profile`` samples and the load each is under: the consumer
(``order-service consume``) through the ingest of a published topic, and the HTTP worker
(``order-service http``) under wrk, for one lookup scenario; each gives a ``Profile``.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import psycopg

from bench import ingest, lookup_scenarios, wrk
from bench.kafka_admin import new_group
from bench.profile_tables import Profile
from bench.py_spy import recording
from bench.service_process import ServiceProcess


def profile_consumer(
    database_url: str, topic: str, orders: int, *, out: Path, rate: int, log_dir: Path
) -> Profile:
    settings = {
        "kafka_topic": topic,
        "kafka_dlq_topic": f"{topic}.dlq",
        "kafka_group": new_group("profile"),
    }
    with (
        ServiceProcess(database_url, log_dir, settings, command="consume") as consumer,
        psycopg.connect(database_url, autocommit=True) as conn,
    ):
        while (first := ingest.stored_orders(conn, orders)) == 0:
            time.sleep(0.01)
        with recording(consumer.pid, out, rate) as recorded:
            started = time.perf_counter()
            while (stored := ingest.stored_orders(conn, orders)) < orders:
                if consumer.process.poll() is not None:
                    raise RuntimeError(f"the consumer exited; see {consumer.log_path}")
                time.sleep(0.05)
            seconds = time.perf_counter() - started
    return Profile(
        f"Consumer: `order-service consume`, {orders:,} orders, default settings",
        seconds,
        f"{(stored - first) / seconds:,.0f} orders/s",
        recorded.samples("wall"),
        recorded.samples("gil"),
        recorded.thread_cpu,
    )


def profile_http(
    database_url: str,
    scenario: lookup_scenarios.Scenario,
    ids_file: Path,
    *,
    seconds: float,
    out: Path,
    rate: int,
    log_dir: Path,
) -> Profile:
    with ServiceProcess(database_url, log_dir, scenario.settings) as service:
        wrk.run_wrk(service.url, ids_file, 16, 3.0)  # warm up
        env_wrk = subprocess.Popen(
            ["wrk", "-t1", "-c16", f"-d{seconds + 2:g}s", "--latency", "-s", str(wrk.LUA),
             service.url, "--", str(ids_file)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        time.sleep(1.0)
        with recording(service.pid, out, rate) as recorded:
            time.sleep(seconds)
        output, _ = env_wrk.communicate(timeout=60)
    match = re.search(r'"requests": (\d+), "duration_us": (\d+)', output)
    throughput = (
        f"{int(match.group(1)) / (int(match.group(2)) / 1e6):,.0f} req/s (wrk -t1 -c16)"
        if match
        else "unknown req/s"
    )
    return Profile(
        f"HTTP worker: `order-service http`, 1 worker, {_plural(scenario.name)}",
        seconds,
        throughput,
        recorded.samples("wall"),
        recorded.samples("gil"),
        recorded.thread_cpu,
    )


def _plural(scenario: str) -> str:
    return scenario.replace("hit", "hits").replace("miss", "misses")
