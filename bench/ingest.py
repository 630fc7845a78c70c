"""Ingest throughput: orders per second from messages already in Kafka to rows committed.

Two paths read the same pre-published topic, each as a new consumer group into a fresh
database:
- the service's (here): an ``order-service consume`` process with the default settings
  (OrderConsumer + SaveThenCache + PostgresOrderRepository: batches of ``batch_size``, the
  next batch fetched, decoded and encoded while a saver thread stores the last one by
  binary COPY in one transaction; offsets committed after the commit);
- a naive baseline (``bench.baseline``): poll() one message, parse and encode it the same
  way, INSERT its rows with one plain INSERT per row in a transaction of its own, commit
  the offset, repeat.
The clock runs from the consumer's start (subscription and group join included) to the
moment the last order's transaction has committed.

And a ceiling with neither Kafka nor parsing nor validation (``bench.ceiling``): the same
orders' rows, built as tuples before the clock starts, loaded into the same tables of a
fresh database by the repository's own binary COPY (``copy_rows``), one transaction per
batch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import attrs
import psycopg

from adapters.kafka.publisher import KafkaPublisher
from adapters.kafka.records import Record
from bench.databases import create_database, drop_database
from bench.environment import KAFKA, Disturbed
from bench.kafka_admin import new_group
from bench.service_process import ServiceProcess
from order_tools.fake_orders import messages

SEED = 20240601  # the same orders in every run, so runs are comparable
TIMEOUT = 600.0  # a run that has not finished by then is broken, not slow


@attrs.frozen
class IngestRun:
    orders: int
    seconds: float
    # From the start to the first batch: committed (the service) or in hand (the baseline).
    first_batch_seconds: float

    @property
    def rate(self) -> float:
        return self.orders / self.seconds


def publish(topic: str, count: int) -> float:
    """Put ``count`` realistic orders on the topic; return the seconds it took."""
    pairs = [Record(key, value) for key, value, _ in messages(count, SEED)]
    publisher = KafkaPublisher(KAFKA)
    started = time.perf_counter()
    try:
        for start in range(0, len(pairs), 10_000):
            publisher.publish(topic, pairs[start : start + 10_000])
    finally:
        publisher.close()
    return time.perf_counter() - started


def stored_orders(conn: psycopg.Connection[Any], expected: int) -> int:
    """Orders committed so far in a fresh database, cheaply: the highest ``seq`` (an
    identity that COPY assigns in order), read from its index in a fraction of a
    millisecond where count(*) would scan the table; once that reaches ``expected``, the
    exact count (a rolled-back copy leaves gaps in ``seq``)."""
    row = conn.execute("SELECT max(seq) FROM orders").fetchone()
    top = int(row[0]) if row and row[0] is not None else 0
    if top < expected:
        return top
    row = conn.execute("SELECT count(*) FROM orders").fetchone()
    return int(row[0]) if row else 0


def service_path(
    topic: str, count: int, log_dir: Path, keep_database: bool = False
) -> tuple[IngestRun, str]:
    """One timed run of ``order-service consume`` (default settings, a new group) over the
    published topic; returns the run and the database URL.

    The clock starts when the process's consumer loop starts (it logs "consuming"; the
    interpreter's start, the migrations and the connection pools come before) and stops
    when the last order is committed.
    """
    database_url = create_database()
    try:
        settings = {
            "kafka_topic": topic,
            "kafka_dlq_topic": f"{topic}.dlq",
            "kafka_group": new_group("ingest"),
        }
        consumer = ServiceProcess(database_url, log_dir, settings, command="consume")
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                deadline = time.perf_counter() + 120
                while "consuming " not in consumer.log_path.read_text(errors="replace"):
                    if consumer.process.poll() is not None or time.perf_counter() > deadline:
                        raise RuntimeError(f"the consumer did not start; see {consumer.log_path}")
                    time.sleep(0.002)
                started = time.perf_counter()
                first_commit = 0.0
                while (stored := stored_orders(conn, count)) < count:
                    if consumer.process.poll() is not None:
                        raise RuntimeError(f"the consumer exited; see {consumer.log_path}")
                    if not first_commit and stored:
                        first_commit = time.perf_counter() - started
                    if time.perf_counter() - started > TIMEOUT:
                        raise RuntimeError(f"saved {stored} of {count} in time")
                    time.sleep(0.005)
                elapsed = time.perf_counter() - started
        finally:
            consumer.stop()
        if "batch not done, retrying" in consumer.log_path.read_text(errors="replace"):
            raise Disturbed(f"the consumer retried a batch; see {consumer.log_path}")
        check_stored(database_url, count)
    except BaseException:
        drop_database(database_url)
        raise
    if not keep_database:
        drop_database(database_url)
    return IngestRun(count, elapsed, first_commit), database_url


def check_stored(database_url: str, count: int) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM deliveries),"
            " (SELECT count(*) FROM payments)"
        ).fetchone()
    if row is None or any(n != count for n in row):
        raise RuntimeError(f"expected {count} orders with their rows, found {row}")
