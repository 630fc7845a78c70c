"""Where the time goes: py-spy on the consumer during an ingest and on the HTTP worker during
memory hits and misses, summarized as markdown.

    .venv/bin/python -m bench.profile            # prints the summary
    .venv/bin/python -m bench.profile --docs     # also writes it into docs/benchmarks.md

Each target is sampled by two py-spy recordings at once, at the same rate: every thread
whatever it does (``--idle``: where each thread is, wall-clock) and only the thread holding
the GIL (``--gil``: where Python runs). Each thread's CPU time over the same window comes
from /proc (py-spy's own idea of an "active" thread counts threads blocked in
``Condition.wait`` as active, so it is not used). Per thread, the wall-clock samples in a
place minus the GIL samples there is the time spent there without the GIL: a thread inside
psycopg without the GIL is waiting on PostgreSQL (or for the GIL once it has answered),
inside the consumer's poll on Kafka, inside ``Future.result`` on another thread. py-spy sees
Python frames only: time in C (msgspec, librdkafka, libpq, uvloop, httptools) shows under the
Python function that called it. The raw recordings are kept with ``--keep DIR``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench import databases, ingest, kafka_admin, lookup_scenarios, machine, py_spy
from bench.console import say
from bench.docs_blocks import DOCS
from bench.environment import ROOT
from bench.profile_tables import Profile
from bench.profiled_processes import profile_consumer, profile_http

START, END = "<!-- bench:profile:start -->", "<!-- bench:profile:end -->"


def run(args: argparse.Namespace, out: Path) -> list[Profile]:
    profiles = []
    log_dir = out / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    topic = kafka_admin.create_topic()
    database_url = databases.create_database()
    try:
        say(f"profile: publishing {args.orders:,} orders")
        ingest.publish(topic, args.orders)
        say("profile: the consumer")
        (out / "consumer").mkdir()
        profiles.append(
            profile_consumer(
                database_url,
                topic,
                args.orders,
                out=out / "consumer",
                rate=args.rate,
                log_dir=log_dir,
            )
        )
        ids_file = out / "ids.txt"
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT order_uid FROM orders ORDER BY seq DESC LIMIT 10000"
            ).fetchall()
        ids_file.write_text("".join(f"{row[0]}\n" for row in rows))
        for scenario in lookup_scenarios.scenarios(len(rows)):
            if scenario.name not in (lookup_scenarios.MEMORY_HIT, lookup_scenarios.MISS):
                continue
            say(f"profile: the HTTP worker, {scenario.name}")
            where = out / scenario.name.split()[0]
            where.mkdir()
            profiles.append(
                profile_http(
                    database_url,
                    scenario,
                    ids_file,
                    seconds=args.seconds,
                    out=where,
                    rate=args.rate,
                    log_dir=log_dir,
                )
            )
    finally:
        kafka_admin.delete_topic(topic)
        databases.drop_database(database_url)
        kafka_admin.delete_groups()
    return profiles


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000, help="orders ingested (100,000)")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per HTTP profile (8)")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second (100)")
    parser.add_argument("--keep", type=Path, help="keep the raw recordings in this directory")
    parser.add_argument(
        "--docs", action="store_true", help="write the summary into docs/benchmarks.md"
    )
    args = parser.parse_args(argv)
    if not py_spy.PY_SPY.exists():
        sys.exit(f"bench.profile: {py_spy.PY_SPY} is missing (the dev dependency group has py-spy)")
    load_before = load_average()
    if float(load_before.split()[0]) > 1.0:
        say(f"profile: WARNING: load average {load_before}: other work skews the profile")
    with tempfile.TemporaryDirectory(prefix="order-profile-") as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        profiles = run(args, out)
    stamp = time.strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        f"Profiled {stamp} with py-spy {py_spy.version()} at {args.rate} samples/s, on "
        f"{machine.machine()['cpu']}, {machine.machine()['cores']} cores; load "
        f"average before: {load_before}, after: {load_average()}. Code: "
        f"{machine.code_version()}. Re-run: `.venv/bin/python -m bench.profile --docs`.",
    ]
    for p in profiles:
        lines += ["", *p.markdown()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.docs:
        current = DOCS.read_text()
        if START in current and END in current:
            head, rest = current.split(START, 1)
            _, tail = rest.split(END, 1)
            DOCS.write_text(f"{head}{START}\n{text}{END}{tail}")
            say(f"profile: updated {DOCS.relative_to(ROOT)}")
        else:
            say(f"profile: {DOCS} has no {START} ... {END} markers; not updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
