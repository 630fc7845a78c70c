"""Run the benchmarks against the real local servers and print the results table.

    .venv/bin/python -m bench.run            # full run (~15 min), updates docs/
    .venv/bin/python -m bench.run --quick    # smaller run (~3 min), prints only

Phases: ingest (the service's consumer, the raw COPY ceiling, the naive baseline), lookup
(memory, Memcached and Redis hits, misses, and two reference apps), visibility (publish ->
first 200 through GET at a steady rate), scaling (1, 2, 3 consumer processes in one group)
and memory (bytes per cached order). Needs the servers of ``scripts/services.sh up`` and
``wrk`` (Debian package). The profile is a separate command: ``python -m bench.profile``.

The defaults of the command line depend on ``--quick`` (orders, runs, seconds, the sweep) and
on the phases chosen (whether docs/ is rewritten). Ingest also leaves a database of orders
for lookup and memory. Each measurement is run again if a server went away meanwhile
(``attempt``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import attrs
import orjson
import psycopg
from confluent_kafka import KafkaException

from bench import environment, ingest, lookup, machine, memory, report, scaling, visibility
from bench.environment import ROOT, say
from bench.latency_plot import plot
from bench.report import (
    DOCS,
    END,
    PLOT,
    SCALING_DOCS,
    SCALING_END,
    SCALING_START,
    START,
    write_block,
)
from bench.results import Results
from entrypoints.settings import load

PHASES = ("ingest", "lookup", "visibility", "scaling", "memory")


def parse_args(argv: list[str] | None, description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=description)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller: 20,000 orders, 1 run (3 for lookups), 5 s, no sweep",
    )
    parser.add_argument("--runs", type=int, help="runs per figure, the median is shown (3)")
    parser.add_argument("--orders", type=int, help="orders for the service's ingest (100,000)")
    parser.add_argument("--baseline-orders", type=int, help="orders for the naive one (2,000)")
    parser.add_argument(
        "--large-batch", type=int, default=10_000, help="orders a transaction, large ceiling"
    )
    parser.add_argument("--seconds", type=float, help="seconds per closed-loop wrk run (8)")
    parser.add_argument("--sweep-seconds", type=float, help="seconds per paced wrk run (5)")
    parser.add_argument("--ids", type=int, default=10_000, help="distinct ids for lookups")
    parser.add_argument(
        "--connections", type=int, nargs="+", default=[16], help="wrk connections (16)"
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="HTTP workers (1)")
    parser.add_argument(
        "--granian",
        metavar="PATH",
        help="also run memory hits and the bare ASGI app on granian (this executable, in an "
        "environment that imports the service: see docs/benchmarks.md)",
    )
    parser.add_argument(
        "--visibility-rate", type=float, default=1000.0, help="orders/s published (1,000)"
    )
    parser.add_argument("--visibility-seconds", type=float, help="seconds per window (20)")
    parser.add_argument("--scaling-orders", type=int, help="orders per scaling run (100,000)")
    parser.add_argument(
        "--instances", type=int, nargs="+", default=[1, 2, 3], help="consumer processes (1 2 3)"
    )
    parser.add_argument(
        "--only", action="append", choices=PHASES, help="run only this phase (repeatable)"
    )
    parser.add_argument("--json", type=Path, help="also write every run's figures to this file")
    parser.add_argument(
        "--docs",
        action=argparse.BooleanOptionalAction,
        help="write the tables into docs/benchmarks.md and docs/scaling.md and the plot to "
        "docs/latency.png (default: on for a full run of every phase, off with --quick)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    # Lookups are the noisiest figures and the quickest to repeat: medians of 3 even quick.
    args.lookup_runs = args.runs or 3
    args.runs = args.runs or (1 if quick else 3)
    args.orders = args.orders or (20_000 if quick else 100_000)
    args.baseline_orders = args.baseline_orders or (500 if quick else 2_000)
    args.seconds = args.seconds or (5.0 if quick else 8.0)
    args.sweep_seconds = args.sweep_seconds or 5.0
    args.sweep = () if quick else (0.25, 0.5, 0.9)
    args.visibility_seconds = args.visibility_seconds or (10.0 if quick else 20.0)
    args.scaling_orders = args.scaling_orders or (20_000 if quick else 100_000)
    args.phases = tuple(p for p in PHASES if p in (args.only or PHASES))
    if args.docs is None:
        args.docs = not quick and args.phases == PHASES
    return args


ATTEMPTS = 3
T = TypeVar("T")


def attempt(what: str, measurement: Callable[[], T]) -> T:
    """Run a measurement; if a server went away meanwhile, say so and run it again."""
    for number in range(1, ATTEMPTS + 1):
        try:
            return measurement()
        except (environment.Disturbed, KafkaException, psycopg.OperationalError) as exc:
            if number == ATTEMPTS:
                raise
            say(f"bench: {what} disturbed ({exc}); repeating it in 10 s")
            time.sleep(10)
    raise AssertionError("unreachable")


def run_ingest(args: argparse.Namespace, results: Results, databases: list[str]) -> str:
    """The ingest phase; returns a database holding ``args.orders`` orders for the others."""
    timed = "ingest" in args.phases
    topic = environment.create_topic()
    try:
        say(f"bench: publishing {args.orders:,} orders to {topic}")
        results.publish_seconds = ingest.publish(topic, args.orders)
        say(f"bench: published in {results.publish_seconds:.1f}s")
        timed_runs = args.runs if timed else 1
        database_url = ""
        for index in range(timed_runs):
            last = index == timed_runs - 1
            run_result, url = attempt(
                "ingest run",
                functools.partial(
                    ingest.service_path, topic, args.orders, Path(args.log_dir), keep_database=last
                ),
            )
            if last:
                databases.append(url)
                database_url = url
            say(
                f"ingest run {index + 1}: {run_result.rate:,.0f} orders/s "
                f"({run_result.seconds:.2f}s, first commit {run_result.first_batch_seconds:.2f}s)"
            )
            if timed:
                results.ingest.append(run_result)
        if timed:
            _ceiling(args, results, int(str(results.settings["batch_size"])))
            for index in range(args.runs):
                base, commit_share = attempt(
                    "naive run", lambda: ingest.naive_baseline(topic, args.baseline_orders)
                )
                say(
                    f"naive run {index + 1}: {base.rate:,.0f} orders/s over {base.orders:,} "
                    f"({commit_share:.0%} of it committing offsets)"
                )
                results.baseline.append(base)
                results.baseline_commit_share.append(commit_share)
    finally:
        environment.delete_topic(topic)
    return database_url


def _ceiling(args: argparse.Namespace, results: Results, batch: int) -> None:
    say(f"bench: building the rows of {args.orders:,} orders for the raw COPY ceiling")
    rows = ingest.prebuilt_rows(args.orders)
    for index in range(args.runs):
        for size in (batch, args.large_batch):
            ceiling = attempt("ceiling run", functools.partial(ingest.copy_ceiling, rows, size))
            say(
                f"ceiling run {index + 1}, {size:,} per transaction: "
                f"{ceiling.rate:,.0f} orders/s ({ceiling.seconds:.2f}s)"
            )
            results.ceiling.append(ceiling)


def run_lookup(args: argparse.Namespace, results: Results, database_url: str) -> None:
    log_dir = Path(args.log_dir)
    ids_file = log_dir / "ids.txt"
    body_file = log_dir / "body.json"
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT order_uid FROM orders ORDER BY seq DESC LIMIT %s", (args.ids,)
        ).fetchall()
        # The reference apps send one document of about the average size.
        body = conn.execute(
            "WITH recent AS (SELECT document::text AS d FROM orders ORDER BY seq DESC LIMIT %s)"
            " SELECT d FROM recent ORDER BY abs(octet_length(d) -"
            " (SELECT avg(octet_length(d)) FROM recent)) LIMIT 1",
            (args.ids,),
        ).fetchone()
    ids_file.write_text("".join(f"{row[0]}\n" for row in rows))
    body_file.write_bytes(str(body[0]).encode() if body else b"{}")
    scenarios = lookup.scenarios(len(rows))
    if args.granian:
        memory_hit = scenarios[0]
        scenarios.append(
            attrs.evolve(memory_hit, name=memory_hit.name + lookup.ON_GRANIAN, granian=args.granian)
        )
    for scenario in scenarios:
        for workers in args.workers:
            closed, points = attempt(
                f"lookup {scenario.name} workers={workers}",
                functools.partial(
                    lookup.measure,
                    database_url=database_url,
                    ids_file=ids_file,
                    log_dir=log_dir,
                    scenario=scenario,
                    workers=workers,
                    concurrencies=args.connections,
                    seconds=args.seconds,
                    runs=args.lookup_runs,
                    sweep=args.sweep if workers == 1 and not scenario.granian else (),
                    sweep_connections=int(str(results.settings["sweep_connections"])),
                    sweep_seconds=args.sweep_seconds,
                    say=say,
                ),
            )
            results.lookups += closed
            results.sweep += points
    references = [(name, None) for name in lookup.REFERENCE_APPS]
    if args.granian:
        references.append((lookup.BARE_ASGI, args.granian))
    for name, granian in references:
        for connections in args.connections:
            results.lookups.append(
                attempt(
                    name,
                    functools.partial(
                        lookup.measure_reference,
                        name=name,
                        granian=granian,
                        body_file=body_file,
                        ids_file=ids_file,
                        log_dir=log_dir,
                        connections=connections,
                        seconds=args.seconds,
                        runs=args.lookup_runs,
                        say=say,
                    ),
                )
            )


def run_visibility(args: argparse.Namespace, results: Results) -> None:
    log_dir = Path(args.log_dir)
    results.visibility = attempt(
        "visibility",
        lambda: visibility.measure(
            log_dir, args.visibility_rate, args.visibility_seconds, args.runs, say
        ),
    )


def run_scaling(args: argparse.Namespace, results: Results) -> None:
    log_dir = Path(args.log_dir)
    results.scaling = scaling.measure(
        count=args.scaling_orders,
        instances=args.instances,
        runs=args.runs,
        log_dir=log_dir,
        say=say,
        attempt=attempt,
    )


def run_memory(args: argparse.Namespace, results: Results, database_url: str) -> None:
    log_dir = Path(args.log_dir)
    for index in range(args.runs):
        result = attempt("memory run", lambda: memory.measure(database_url, args.orders, log_dir))
        say(
            f"memory run {index + 1}: {result.bytes_per_order:,.0f} bytes/order, "
            f"JSON {result.avg_json_bytes:,.0f} bytes, ratio {result.ratio:.2f}"
        )
        results.memory.append(result)


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
                environment.drop_database(url)
        with contextlib.suppress(Exception):
            environment.delete_groups()


@contextlib.contextmanager
def _phase(results: Results, name: str) -> Iterator[None]:
    """A phase of the run: notes the load average as it starts and the CPU that other
    people's processes used while it ran."""
    results.load_during[name] = load = load_average()
    say(f"bench: {name} (load average {load}, the bench's own work included)")
    started, foreign = time.monotonic(), machine.foreign_cpu_seconds()
    yield
    cores = (machine.foreign_cpu_seconds() - foreign) / (time.monotonic() - started)
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
                [heading, "", *report.machine_lines(results), "", *report.scaling_lines(results)]
            )
            write_block(SCALING_DOCS, SCALING_START, SCALING_END, scaling_text + "\n")
    return 0  # a MISS is a finding to read, not a failure of the command


if __name__ == "__main__":
    sys.exit(main())
