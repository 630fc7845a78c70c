"""Run the benchmarks against the real local servers and print the results table.

    .venv/bin/python -m bench.run            # full run (~15 min), updates docs/
    .venv/bin/python -m bench.run --quick    # smaller run (~3 min), prints only

Phases: ingest (the service's consumer, the raw COPY ceiling, the naive baseline), lookup
(memory, Memcached and Redis hits, misses, and two reference apps), visibility (publish ->
first 200 through GET at a steady rate), scaling (1, 2, 3 consumer processes in one group)
and memory (bytes per cached order). Needs the servers of ``scripts/services.sh up`` and
``wrk`` (Debian package). The profile is a separate command: ``python -m bench.profile``.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import orjson
import psycopg

from bench import cpu, environment, kafka_admin, machine, report
from bench.console import say
from bench.databases import drop_database
from bench.docs_blocks import (
    DOCS,
    END,
    PLOT,
    SCALING_DOCS,
    SCALING_END,
    SCALING_START,
    START,
    write_block,
)
from bench.environment import ROOT
from bench.latency_plot import plot
from bench.phases import run_ingest, run_lookup, run_memory, run_scaling, run_visibility
from bench.report_scaling import scaling_lines
from bench.results import Results
from bench.run_arguments import parse_args
from entrypoints.settings import load


def preflight(phases: tuple[str, ...]) -> None:
    if "lookup" in phases and shutil.which("wrk") is None:
        sys.exit("bench: wrk is missing (apt-get install -y wrk)")
    try:
        with psycopg.connect(environment.ADMIN_URL, connect_timeout=3):
            pass
    except psycopg.Error as exc:
        sys.exit(f"bench: cannot reach PostgreSQL ({exc}); run scripts/services.sh up")


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


@contextlib.contextmanager
def cleanup() -> Iterator[list[str]]:
    """Databases to drop at the end, whatever happens."""
    databases: list[str] = []
    try:
        yield databases
    finally:
        for url in databases:
            with contextlib.suppress(Exception):
                drop_database(url)
        with contextlib.suppress(Exception):
            kafka_admin.delete_groups()


@contextlib.contextmanager
def _phase(results: Results, name: str) -> Iterator[None]:
    """A phase of the run: notes the load average as it starts and the CPU that other
    people's processes used while it ran."""
    results.load_during[name] = load = load_average()
    say(f"bench: {name} (load average {load}, the bench's own work included)")
    started, foreign = time.monotonic(), cpu.foreign_cpu_seconds()
    yield
    cores = (cpu.foreign_cpu_seconds() - foreign) / (time.monotonic() - started)
    results.foreign_cores[name] = cores
    if cores > 0.2:
        say(f"bench: WARNING: other processes used {cores:.2f} cores during {name}")


def run(args: argparse.Namespace) -> Results:
    settings = load({}, {})
    results = Results(
        machine=machine.machine(),
        settings={
            "batch_size": settings.batch_size,
            "wrk_seconds": args.seconds,
            "sweep_seconds": args.sweep_seconds,
            "lookup_ids": args.ids,
            "sweep_connections": 16,
        },
        load_before=load_average(),
        servers=environment.servers(),
    )
    fingerprint = machine.src_fingerprint()
    say("bench: " + report.machine_lines(results)[0])
    if float(results.load_before.split()[0]) > 1.0:
        say(f"bench: WARNING: load average {results.load_before}: other work skews the figures")
    with cleanup() as databases:
        database_url = ""
        if {"ingest", "lookup", "memory"} & set(args.phases):
            with _phase(results, "ingest"):
                database_url = run_ingest(args, results, databases)
        if "lookup" in args.phases:
            with _phase(results, "lookup"):
                run_lookup(args, results, database_url)
        if "visibility" in args.phases:
            with _phase(results, "visibility"):
                run_visibility(args, results)
        if "scaling" in args.phases:
            with _phase(results, "scaling"):
                run_scaling(args, results)
        if "memory" in args.phases:
            with _phase(results, "memory"):
                run_memory(args, results, database_url)
    results.load_after = load_average()
    if machine.src_fingerprint() != fingerprint:
        code = machine.code_version()
        say(f"bench: WARNING: the service's code changed during the run (now {code})")
        results.machine["code"] += f" at the start, {code} at the end (src/ changed during the run)"
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, description=__doc__.split("\n")[0])
    preflight(args.phases)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="order-bench-") as log_dir:
        args.log_dir = log_dir
        try:
            results = run(args)
        except BaseException:
            # Keep the service logs: they say why a server did not come up.
            kept = Path(tempfile.mkdtemp(prefix="order-bench-logs-"))
            for log in Path(log_dir).glob("*.log"):
                shutil.copy(log, kept)
            say(f"bench: failed; service logs kept in {kept}")
            raise
    minutes = (time.monotonic() - started) / 60
    table = report.report(results)
    stamp = time.strftime("%Y-%m-%d %H:%M %Z")
    mode = "quick" if args.quick else "full"
    heading = f"Run of {stamp} ({mode}: {args.runs} run(s) per figure, {minutes:.1f} min)."
    table = f"{heading}\n\n{table}"
    print(table)
    if args.json:
        args.json.write_bytes(orjson.dumps(attrs.asdict(results), option=orjson.OPT_INDENT_2))
        say(f"bench: wrote {args.json}")
    if args.docs:
        write_block(DOCS, START, END, table)
        if results.sweep:
            plot(results, PLOT)
            say(f"bench: wrote {PLOT.relative_to(ROOT)}")
        if results.scaling:
            scaling_text = "\n".join(
                [heading, "", *report.machine_lines(results), "", *scaling_lines(results)]
            )
            write_block(SCALING_DOCS, SCALING_START, SCALING_END, scaling_text + "\n")
    return 0  # a MISS is a finding to read, not a failure of the command


if __name__ == "__main__":
    sys.exit(main())
