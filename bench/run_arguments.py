"""The command line of ``python -m bench.run``: its options, and the defaults that depend on
``--quick`` (orders, runs, seconds, the sweep) and on the phases chosen (whether docs/ is
rewritten), resolved into one namespace.
"""

from __future__ import annotations

import argparse
from pathlib import Path

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
