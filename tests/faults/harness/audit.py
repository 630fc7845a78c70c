"""The audit of every fault test: what the service made of a workload.

What it guarantees is in the package docstring (tests/faults/harness/__init__.py). Its
parts: ``CommitWatch`` samples the group's commits all along (``commits_ahead_of_work``
checks them against the work), ``saved_count`` and ``saved_uids`` say what PostgreSQL holds
now, and ``audit`` checks the end state.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Mapping, Sequence

import attrs
import psycopg
from confluent_kafka import KafkaException

from adapters.kafka.dead_letters import format as dlq_format
from tests.faults.harness.kafka import KafkaProbe, Record, read_topic
from tests.faults.harness.workload import Workload


def saved_count(database_url: str) -> int:
    """Orders stored now, or -1 while the database cannot be reached."""
    try:
        with psycopg.connect(database_url, connect_timeout=2, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM orders").fetchone()
    except psycopg.OperationalError:
        return -1
    return int(row[0]) if row else 0


def saved_uids(database_url: str) -> set[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return {str(r[0]) for r in conn.execute("SELECT order_uid FROM orders")}


class CommitWatch:
    """Samples the group's committed offsets in the background, with the time of each sample."""

    def __init__(self, topic: str, group: str, partitions: int, every: float = 0.1) -> None:
        self.samples: list[tuple[float, dict[int, int]]] = []
        self._probe = KafkaProbe(topic, group, partitions)
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    committed = self._probe.committed(timeout=5)
                except KafkaException:
                    committed = None  # the broker is away: no sample
                if committed is not None:
                    # Taken after the answer: anything committed then was committed before now.
                    self.samples.append((time.time(), committed))
                self._stop.wait(self._every)
        finally:
            self._probe.close()

    def committed_between(self, start: float, end: float) -> int:
        """Messages committed between two Unix times (from the samples nearest to them)."""
        inside = [total for when, total in self.totals() if start <= when <= end]
        return inside[-1] - inside[0] if len(inside) >= 2 else 0

    def totals(self) -> list[tuple[float, int]]:
        """(Unix time, sum of the committed offsets) of every sample."""
        return [(when, sum(committed.values())) for when, committed in list(self.samples)]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def __enter__(self) -> CommitWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def commits_ahead_of_work(
    samples: Sequence[tuple[float, Mapping[int, int]]],
    source: Mapping[tuple[int, int], Record],
    workload: Workload,
    saved_at: Mapping[str, float],
    dead_at: Mapping[tuple[int, int], float],
) -> list[str]:
    """Samples where a committed offset passed a message not yet saved nor dead-lettered."""
    # For each partition: offsets in order, and the time by which all up to each were done.
    done_by: dict[int, tuple[list[int], list[float]]] = {}
    for (partition, offset), record in sorted(source.items()):
        uid = workload.valid_values.get(record.value)
        done = saved_at.get(uid, float("inf")) if uid else dead_at.get((partition, offset))
        offsets, times = done_by.setdefault(partition, ([], []))
        previous = times[-1] if times else 0.0
        offsets.append(offset)
        times.append(max(previous, float("inf") if done is None else done))
    violations = []
    for when, committed in samples:
        for partition, offset in committed.items():
            if offset <= 0 or partition not in done_by:
                continue
            offsets, times = done_by[partition]
            index = bisect.bisect_left(offsets, offset) - 1
            # 1 ms of slack: the dead-letter timestamps have millisecond precision.
            if index >= 0 and times[index] > when + 0.001:
                violations.append(
                    f"partition {partition} was committed to {offset} at {when:.3f}, before "
                    f"its messages were all saved or dead-lettered ({times[index]:.3f})"
                )
    return violations


@attrs.define
class Audit:
    """What the service made of a workload: the figures, and every problem found."""

    published: int = 0
    valid: int = 0
    invalid: int = 0
    saved: int = 0
    rows: int = 0
    duplicates: int = 0
    lost: int = 0
    unexpected: int = 0
    dead_lettered: int = 0
    dlq_records: int = 0
    dlq_duplicates: int = 0
    dlq_missing: int = 0
    commit_samples: int = 0
    problems: list[str] = attrs.field(factory=list)
    dlq: dict[tuple[int, int], Record] = attrs.field(factory=dict, repr=False)
    source: dict[tuple[int, int], Record] = attrs.field(factory=dict, repr=False)

    def figures(self) -> dict[str, object]:
        return {
            "published": self.published,
            "valid": self.valid,
            "saved": self.saved,
            "dead_lettered": self.dead_lettered,
            "duplicates": self.duplicates,
            "lost": self.lost,
            "dlq_duplicates": self.dlq_duplicates,
            "commit_samples": self.commit_samples,
        }

    def reason_of(self, value: bytes) -> list[str]:
        """The dead-letter reasons recorded for messages with these bytes."""
        return [
            dict(record.headers)[dlq_format.REASON].decode()
            for record in self.dlq.values()
            if record.value == value
        ]


def audit(
    database_url: str,
    topic: str,
    group: str,
    partitions: int,
    workload: Workload,
    commits: CommitWatch | None = None,
    allow_dlq_duplicates: bool = False,
) -> Audit:
    """Check the end state (see the package docstring); ``problems`` lists what is wrong."""
    result = Audit()
    problems = result.problems
    source = read_topic(topic, partitions)
    result.source = source
    result.published = len(workload.pairs)
    valid_uids = workload.valid_uids
    result.valid = len(valid_uids)
    result.invalid = workload.invalid_count
    if len(source) != len(workload.pairs):
        problems.append(f"the topic holds {len(source)} messages, {len(workload.pairs)} published")

    # PostgreSQL: every valid order once, nothing else.
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT order_uid, extract(epoch FROM saved_at)::float8 FROM orders"
        ).fetchall()
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM orders), (SELECT count(DISTINCT order_uid) FROM orders),"
            " (SELECT count(*) FROM deliveries), (SELECT count(*) FROM payments),"
            " (SELECT count(*) FROM items)"
        ).fetchone()
    assert counts is not None
    total, distinct, deliveries, payments, items = (int(c) for c in counts)
    saved_at = {str(uid): float(at) for uid, at in rows}
    stored = set(saved_at)
    result.rows = total
    result.saved = len(stored & valid_uids)
    result.lost = len(valid_uids - stored)
    result.unexpected = len(stored - valid_uids)
    child_excess = (
        max(0, deliveries - distinct)
        + max(0, payments - distinct)
        + max(0, items - workload.expected_items)
    )
    result.duplicates = total - distinct + child_excess
    if result.lost:
        problems.append(f"{result.lost} valid orders not in PostgreSQL")
    if result.unexpected:
        problems.append(f"{result.unexpected} orders in PostgreSQL that were never valid")
    if total != distinct:
        problems.append(f"count(*) {total} != count(distinct) {distinct}")
    if (deliveries, payments, items) != (distinct, distinct, workload.expected_items):
        problems.append(
            f"child rows: deliveries {deliveries}, payments {payments}, items {items}; "
            f"expected {distinct}, {distinct}, {workload.expected_items}"
        )

    # The dead-letter topic: every invalid message once, with its bytes and its provenance.
    dlq = read_topic(f"{topic}.dlq", 1)
    result.dlq = dlq
    result.dlq_records = len(dlq)
    invalid_positions = {pos for pos, r in source.items() if r.value not in workload.valid_values}
    dead_at: dict[tuple[int, int], float] = {}
    wrong: list[str] = []
    for (_, dlq_offset), record in sorted(dlq.items()):
        headers = dict(record.headers)
        try:
            position = (int(headers[dlq_format.PARTITION]), int(headers[dlq_format.OFFSET]))
            reason = headers[dlq_format.REASON].decode()
            origin = headers[dlq_format.TOPIC].decode()
        except (KeyError, ValueError) as exc:
            wrong.append(f"dlq@{dlq_offset}: bad headers {headers!r} ({exc!r})")
            continue
        original = source.get(position)
        if origin != topic or original is None:
            wrong.append(f"dlq@{dlq_offset}: names {origin}{position}, not a message of {topic}")
        elif original.value != record.value or original.key != record.key:
            wrong.append(f"dlq@{dlq_offset}: bytes differ from {topic}{position}")
        elif not set(original.headers) <= set(record.headers):
            wrong.append(f"dlq@{dlq_offset}: the original headers were not kept")
        elif position not in invalid_positions:
            wrong.append(f"dlq@{dlq_offset}: {topic}{position} is a valid order")
        if not reason:
            wrong.append(f"dlq@{dlq_offset}: no reason given")
        dead_at[position] = min(dead_at.get(position, record.timestamp), record.timestamp)
    result.dead_lettered = len(invalid_positions & set(dead_at))
    result.dlq_missing = len(invalid_positions - set(dead_at))
    result.dlq_duplicates = len(dlq) - len(dead_at)
    if wrong:
        problems.append(f"{len(wrong)} wrong dead letters, e.g. {wrong[:3]}")
    if result.dlq_missing:
        problems.append(f"{result.dlq_missing} invalid messages not dead-lettered")
    if result.dlq_duplicates and not allow_dlq_duplicates:
        problems.append(f"{result.dlq_duplicates} messages dead-lettered more than once")

    # The group's commits: at the end up to the end of every partition, and never ahead.
    probe = KafkaProbe(topic, group, partitions)
    try:
        ends, committed = probe.end_offsets(), probe.committed()
    finally:
        probe.close()
    if committed != ends:
        problems.append(f"committed offsets {committed} do not cover the end offsets {ends}")
    if commits is not None:
        result.commit_samples = len(commits.samples)
        problems.extend(
            commits_ahead_of_work(commits.samples, source, workload, saved_at, dead_at)[:5]
        )
    return result
