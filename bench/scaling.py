"""Consumer scaling: 1, 2 and 3 ``order-service consume`` processes in one consumer group.

For each count, on a fresh topic (``PARTITIONS`` partitions, so that 1, 2 and 3 instances
each get an even share) and a fresh database: the processes are started with the default
settings and the benchmark waits until the group is stable with every partition assigned;
then it publishes the orders as fast as the service's own publisher goes and waits until
PostgreSQL holds all of them. The clock runs from the first publish to the moment the count
of stored orders reaches the total; publishing (about three times faster than consuming)
overlaps the consuming, as it does in production when a backlog arrives.

Also noted: the CPU time used meanwhile by the consumer processes, by the PostgreSQL
server processes of their connections, and by the Kafka broker (shared with whatever else
uses it), for the arithmetic of docs/scaling.md.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import psycopg
from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient

from adapters.kafka.client.publisher import KafkaPublisher
from adapters.kafka.client.records import Record
from bench.environment import (
    KAFKA,
    Disturbed,
    create_database,
    create_topic,
    delete_topic,
    drop_database,
    new_group,
)
from bench.ingest import order_records, publish_and_close, stored_orders
from bench.machine import backend_pids, cpu_seconds, kafka_broker_pid
from bench.processes import ServiceProcess

PARTITIONS = 6  # divides evenly among 1, 2 and 3 instances
TIMEOUT = 600.0


@attrs.frozen
class ScalingRun:
    instances: int
    orders: int
    seconds: float  # first publish to the last order stored
    publish_seconds: float
    consumer_cpu: float  # CPU seconds of the consumer processes over the run
    postgres_cpu: float  # of the PostgreSQL processes serving their connections
    kafka_cpu: float | None  # of the broker (None: not found)
    stored_bytes: int = 0  # the four tables with their indexes, TOAST included, at the end
    wal_bytes: int = 0  # WAL the server wrote meanwhile (all its databases: an upper bound)

    @property
    def rate(self) -> float:
        return self.orders / self.seconds


def _wait_assigned(group: str, members: int, timeout: float = 90.0) -> None:
    """Until the group is stable with ``members`` members sharing every partition."""
    admin = AdminClient({"bootstrap.servers": KAFKA})
    deadline = time.monotonic() + timeout
    seen = "nothing"
    while time.monotonic() < deadline:
        try:
            description = admin.describe_consumer_groups([group])[group].result(timeout=10)
        except Exception as exc:  # the group may not exist yet
            seen = str(exc)
        else:
            assigned = sum(len(m.assignment.topic_partitions) for m in description.members)
            seen = f"{description.state}, {len(description.members)} members, {assigned} assigned"
            stable = description.state == ConsumerGroupState.STABLE
            if stable and len(description.members) == members and assigned == PARTITIONS:
                return
        time.sleep(0.2)
    raise RuntimeError(f"group {group} did not settle with {members} members: {seen}")


def _wal_position(conn: psycopg.Connection[tuple[int]]) -> int:
    row = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
    return int(row[0]) if row else 0


def _stored_bytes(conn: psycopg.Connection[tuple[int]]) -> int:
    row = conn.execute(
        "SELECT sum(pg_total_relation_size(t::regclass))"
        " FROM unnest(ARRAY['orders', 'deliveries', 'payments', 'items']) t"
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def one_run(records: Sequence[Record], instances: int, log_dir: Path) -> ScalingRun:
    topic = create_topic(PARTITIONS)
    database_url = create_database()
    group = new_group("scaling")
    settings = {
        "kafka_topic": topic,
        "kafka_dlq_topic": f"{topic}.dlq",
        "kafka_group": group,
        "kafka_partitions": PARTITIONS,
        "log_level": "INFO",
    }
    processes = [
        ServiceProcess(database_url, log_dir, settings, command="consume") for _ in range(instances)
    ]
    try:
        for process in processes:
            process.wait_ready()
        _wait_assigned(group, instances)
        time.sleep(1.0)  # the pools' connections open in the background: let them
        consumers = [p.pid for p in processes]
        backends = backend_pids(database_url)
        broker = kafka_broker_pid()
        cpu_before = (
            cpu_seconds(consumers),
            cpu_seconds(backends),
            cpu_seconds([broker]) if broker else 0.0,
        )
        publisher = KafkaPublisher(KAFKA)
        with psycopg.connect(database_url, autocommit=True) as conn:
            wal_before = _wal_position(conn)
            started = time.perf_counter()
            publish_and_close(publisher, topic, records)
            published = time.perf_counter() - started
            while (stored := stored_orders(conn, len(records))) < len(records):
                if any(p.process.poll() is not None for p in processes):
                    raise RuntimeError("a consumer process exited; see its log in the log dir")
                if time.perf_counter() - started > TIMEOUT:
                    raise RuntimeError(f"stored {stored} of {len(records)} in time")
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
            wal_bytes = _wal_position(conn) - wal_before
            stored_bytes = _stored_bytes(conn)
        backends = sorted(set(backends) | set(backend_pids(database_url)))
        cpu_after = (
            cpu_seconds(consumers),
            cpu_seconds(backends),
            cpu_seconds([broker]) if broker else 0.0,
        )
    finally:
        for process in processes:
            process.stop()
        delete_topic(topic)
        drop_database(database_url)
    for process in processes:
        if "batch not done, retrying" in process.log_path.read_text(errors="replace"):
            raise Disturbed(f"a consumer retried a batch; see {process.log_path}")
    return ScalingRun(
        instances=instances,
        orders=len(records),
        seconds=elapsed,
        publish_seconds=published,
        consumer_cpu=cpu_after[0] - cpu_before[0],
        postgres_cpu=cpu_after[1] - cpu_before[1],
        kafka_cpu=(cpu_after[2] - cpu_before[2]) if broker else None,
        stored_bytes=stored_bytes,
        wal_bytes=wal_bytes,
    )


def measure(
    *,
    count: int,
    instances: Sequence[int],
    runs: int,
    log_dir: Path,
    say: Callable[[str], None],
    attempt: Callable[[str, Callable[[], ScalingRun]], ScalingRun],
) -> list[ScalingRun]:
    batch = order_records(count)
    results = []
    for index in range(runs):
        for n in instances:
            run = attempt(f"scaling run {n}", functools.partial(one_run, batch, n, log_dir))
            say(
                f"scaling run {index + 1}, {n} consumer(s): {run.rate:,.0f} orders/s "
                f"({run.seconds:.1f}s; publish {run.publish_seconds:.1f}s); CPU per order: "
                f"consumers {1e6 * run.consumer_cpu / run.orders:.0f} us, PostgreSQL "
                f"{1e6 * run.postgres_cpu / run.orders:.0f} us"
            )
            results.append(run)
    return results
