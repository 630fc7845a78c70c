"""The phases of ``python -m bench.run``, each measuring into the results: ingest (which also
leaves a database of orders for lookup and memory, with the raw COPY ceiling and the naive
baseline), lookup (the service's scenarios, then the reference apps), visibility, scaling
and memory. Each measurement is run again if a server went away meanwhile (``attempt``).
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import attrs
import psycopg
from confluent_kafka import KafkaException

from bench import (
    environment,
    ingest,
    kafka_admin,
    lookup,
    lookup_scenarios,
    memory,
    scaling,
    visibility,
)
from bench.baseline import naive_baseline
from bench.ceiling import copy_ceiling, prebuilt_rows
from bench.console import say
from bench.results import Results

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
    topic = kafka_admin.create_topic()
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
                    "naive run", lambda: naive_baseline(topic, args.baseline_orders)
                )
                say(
                    f"naive run {index + 1}: {base.rate:,.0f} orders/s over {base.orders:,} "
                    f"({commit_share:.0%} of it committing offsets)"
                )
                results.baseline.append(base)
                results.baseline_commit_share.append(commit_share)
    finally:
        kafka_admin.delete_topic(topic)
    return database_url


def _ceiling(args: argparse.Namespace, results: Results, batch: int) -> None:
    say(f"bench: building the rows of {args.orders:,} orders for the raw COPY ceiling")
    rows = prebuilt_rows(args.orders)
    for index in range(args.runs):
        for size in (batch, args.large_batch):
            ceiling = attempt("ceiling run", functools.partial(copy_ceiling, rows, size))
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
    scenarios = lookup_scenarios.scenarios(len(rows))
    if args.granian:
        memory_hit = scenarios[0]
        scenarios.append(
            attrs.evolve(
                memory_hit, name=memory_hit.name + lookup_scenarios.ON_GRANIAN, granian=args.granian
            )
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
    references = [(name, None) for name in lookup_scenarios.REFERENCE_APPS]
    if args.granian:
        references.append((lookup_scenarios.BARE_ASGI, args.granian))
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
