"""Saves that do not return: every wait has a bound, and readiness tracks progress.

Four ways a save can stop returning, each on the real servers with a consumer process:
- a table lock held (as a plain ``CREATE INDEX`` takes it) past the save's lock_timeout;
- only the consumer's own backend frozen (SIGSTOP of that backend's pid) inside its
  transaction: no timer of the server's can fire; the save's watchdog abandons it, and
  SIGTERM ends ``consume`` within its stated bound;
- the link to PostgreSQL going silent (a proxy that stops relaying, connections open);
- the consumer itself frozen inside its transaction (row locks held) while a second
  consumer takes its partitions over: the frozen session is ended by the server
  (idle_in_transaction_session_timeout / statement_timeout) and the second one goes on.
In each, /readyz answers 503 saying no batch completed while work waits, /healthz stays
200, nothing is committed ahead of the work, and once the fault is gone every order is
stored exactly once (the audit). Each prints its figures (recovery times).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import httpx
import psycopg
import pytest

from entrypoints.cli.service import SHUTDOWN_MARGIN
from tests.faults.harness.audit import CommitWatch, audit, saved_count
from tests.faults.harness.kafka import KafkaProbe, all_done, new_topic
from tests.faults.harness.measures import Figures
from tests.faults.harness.servers import TcpProxy
from tests.faults.harness.workload import Publishing, Workload, publish
from tests.support import Spawn, free_port, http_up, service_env, wait_until

pytestmark = pytest.mark.faults

PARTITIONS = 4
READY_MAX_STALL = 3.0
# Short bounds, so that each fault outlasts them several times over in seconds.
BOUNDS = {
    "db_statement_timeout": 2,  # the save's deadline: 7 s
    "db_lock_timeout": 1,
    "db_tcp_timeout": 6,
    "ready_max_stall": READY_MAX_STALL,
    "shutdown_timeout": 3,
    "retry_max": 1,
}
SAVE_DEADLINE = BOUNDS["db_statement_timeout"] + 5.0
IN_TRANSACTION = (
    "SELECT pid, xact_start FROM pg_stat_activity"
    " WHERE application_name = 'order-service ingest' AND datname = current_database()"
    " AND xact_start IS NOT NULL AND state IN ('active', 'idle in transaction')"
)


class Consumer:
    """A ``consume`` process with its ops port."""

    def __init__(self, spawn: Spawn, env: dict[str, str], name: str) -> None:
        self.port = int(env["ORDER_SERVICE_OPS_PORT"])
        self.process = spawn("consume", env, name)
        self.ops = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        wait_until(
            http_up(f"http://127.0.0.1:{self.port}/healthz"), 60, "the ops server", [self.process]
        )

    def readiness(self) -> tuple[int, str]:
        answer = self.ops.get("/readyz")
        return answer.status_code, str(answer.json()["checks"].get("consumer"))

    def stalled(self) -> bool:
        status, check = self.readiness()
        return status == 503 and check.startswith("no batch completed for ")

    def ready(self) -> bool:
        return self.readiness()[0] == 200

    def close(self) -> None:
        self.ops.close()


def _env(database_url: str, topic: str, **changes: object) -> dict[str, str]:
    return service_env(database_url, topic, ops_port=free_port(), **{**BOUNDS, **changes})


def _ingest_transactions(database_url: str) -> list[tuple[int, object]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return [(int(pid), start) for pid, start in conn.execute(IN_TRANSACTION).fetchall()]


@contextmanager
def _running(
    database_url: str, topic: str, spawn: Spawn, name: str, **env: object
) -> Iterator[Consumer]:
    consumer = Consumer(spawn, _env(database_url, topic, **env), name)
    try:
        yield consumer
    finally:
        consumer.close()


def _finish(
    database_url: str, topic: str, workload: Workload, commits: CommitWatch, consumer: Consumer
) -> float:
    """Wait until every offset is committed; the seconds it took."""
    probe = KafkaProbe(topic, f"group-{topic}", PARTITIONS)
    try:
        return wait_until(
            all_done(probe, probe.end_offsets()), 120, "every offset committed", [consumer.process]
        )
    finally:
        probe.close()


def test_a_table_lock_held_past_the_bound_stalls_then_recovers(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    topic = new_topic(PARTITIONS)
    workload = Workload.generate(4_000, seed=1801, invalid_ratio=0.02)
    half = len(workload.pairs) // 2
    with (
        CommitWatch(topic, f"group-{topic}", PARTITIONS) as commits,
        _running(clean_database, topic, spawn, "consume") as consumer,
    ):
        publish(topic, workload, stop=half)
        first = len(workload.valid_uids_in(0, half))
        wait_until(
            lambda: saved_count(clean_database) == first, 60, "the first half", [consumer.process]
        )
        locker = psycopg.connect(clean_database)
        try:
            locker.execute("LOCK TABLE orders IN SHARE MODE")  # what CREATE INDEX takes
            locked_at = time.monotonic()
            publish(topic, workload, start=half)
            stalled_s = wait_until(
                consumer.stalled, 30, "/readyz 503: no batch completed", [consumer.process]
            )
            status, check = consumer.readiness()
            health = consumer.ops.get("/healthz").status_code
            time.sleep(2 * BOUNDS["db_lock_timeout"])
            saved_while_locked = saved_count(clean_database) - first
        finally:
            locker.rollback()
            locker.close()
        released_at = time.monotonic()
        recovered_s = _finish(clean_database, topic, workload, commits, consumer)
        ready_after = consumer.ready()
        code, _ = consumer.process.stop(signal.SIGTERM)
    result = audit(clean_database, topic, f"group-{topic}", PARTITIONS, workload, commits)
    figures.record(
        **result.figures(),
        locked_s=released_at - locked_at,
        readyz_503_after_s=stalled_s,
        recovered_s=recovered_s,
        consumer_check=repr(check),
    )
    assert result.problems == []
    assert saved_while_locked == 0
    assert status == 503
    assert "lock timeout" in check, check
    assert health == 200
    assert ready_after
    assert code == 0


def test_only_the_ingest_backend_frozen_is_abandoned_and_sigterm_is_bounded(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    topic = new_topic(PARTITIONS)
    workload = Workload.generate(30_000, seed=1802, invalid_ratio=0.02)
    caught: list[tuple[int, object]] = []

    def freeze_one_in_its_transaction() -> bool:
        """SIGSTOP an ingest backend inside a save; True once one stays frozen in it."""
        for pid, started in _ingest_transactions(clean_database):
            os.kill(pid, signal.SIGSTOP)
            if (pid, started) in _ingest_transactions(clean_database):
                caught.append((pid, started))
                return True
            os.kill(pid, signal.SIGCONT)  # its transaction ended meanwhile: another one
        return False

    with CommitWatch(topic, f"group-{topic}", PARTITIONS) as commits:
        first = Consumer(spawn, _env(clean_database, topic), "consume-first")
        publishing = Publishing(
            topic, workload, rate=3_000, until=lambda: bool(caught), at_least=2_000
        )
        try:
            wait_until(
                freeze_one_in_its_transaction,
                60,
                "an ingest backend frozen in a save",
                [first.process],
            )
            frozen_at = time.monotonic()
            publishing.join()
            stalled_s = wait_until(first.stalled, 30, "/readyz 503", [first.process])
            status, check = first.readiness()
            wait_until(
                lambda: "cut a PostgreSQL connection" in first.process.output(),
                SAVE_DEADLINE + 5,
                "the save abandoned by its watchdog",
                [first.process],
            )
            cut_after_s = time.monotonic() - frozen_at
            code, exit_s = first.process.stop(signal.SIGTERM, timeout=60)
        finally:
            for pid, _ in caught:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            first.close()
        with _running(clean_database, topic, spawn, "consume-second") as second:
            recovered_s = _finish(clean_database, topic, workload, commits, second)
            second.process.stop(signal.SIGTERM)
    result = audit(
        clean_database, topic, f"group-{topic}", PARTITIONS, publishing.published, commits
    )
    bound = BOUNDS["shutdown_timeout"] + SHUTDOWN_MARGIN
    figures.record(
        **result.figures(),
        readyz_503_after_s=stalled_s,
        save_cut_after_s=cut_after_s,
        sigterm_exit_s=exit_s,
        sigterm_bound_s=bound,
        recovered_s=recovered_s,
    )
    assert result.problems == []
    assert status == 503, check
    assert cut_after_s <= SAVE_DEADLINE + 3
    assert code == 0
    assert exit_s <= bound


def test_a_link_that_goes_silent_is_given_up_and_recovers(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    topic = new_topic(PARTITIONS)
    workload = Workload.generate(20_000, seed=1803, invalid_ratio=0.02)
    info = psycopg.conninfo.conninfo_to_dict(clean_database)
    proxy = TcpProxy((str(info.get("host") or "127.0.0.1"), int(str(info.get("port") or 5432))))
    through_proxy = psycopg.conninfo.make_conninfo(
        clean_database, host="127.0.0.1", port=proxy.port
    )
    try:
        with (
            CommitWatch(topic, f"group-{topic}", PARTITIONS) as commits,
            _running(through_proxy, topic, spawn, "consume") as consumer,
        ):
            publishing = Publishing(topic, workload, rate=3_000)
            wait_until(
                lambda: saved_count(clean_database) > 2_000,
                60,
                "saves going on",
                [consumer.process],
            )
            proxy.blackhole()
            silent_at = time.monotonic()
            stalled_s = wait_until(consumer.stalled, 30, "/readyz 503", [consumer.process])
            saved_at_stall = saved_count(clean_database)
            time.sleep(SAVE_DEADLINE + 2)
            saved_while_silent = saved_count(clean_database) - saved_at_stall
            health = consumer.ops.get("/healthz").status_code
            proxy.restore()
            restored_at = time.monotonic()
            publishing.join()
            recovered_s = _finish(clean_database, topic, workload, commits, consumer)
            code, _ = consumer.process.stop(signal.SIGTERM)
            output = consumer.process.output()
    finally:
        proxy.close()
    result = audit(clean_database, topic, f"group-{topic}", PARTITIONS, workload, commits)
    figures.record(
        **result.figures(),
        silent_s=restored_at - silent_at,
        readyz_503_after_s=stalled_s,
        recovered_s=recovered_s,
    )
    assert result.problems == []
    assert saved_while_silent == 0
    assert health == 200
    assert "cut a PostgreSQL connection" in output
    assert code == 0


def test_a_consumer_frozen_inside_its_transaction_does_not_block_the_next_owner(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    topic = new_topic(PARTITIONS)
    workload = Workload.generate(20_000, seed=1804, invalid_ratio=0.02)
    frozen_consumer: list[int] = []

    with CommitWatch(topic, f"group-{topic}", PARTITIONS) as commits:
        first = Consumer(spawn, _env(clean_database, topic), "consume-frozen")

        def freeze_it_in_a_transaction() -> bool:
            for pid, started in _ingest_transactions(clean_database):
                os.kill(first.process.proc.pid, signal.SIGSTOP)
                if (pid, started) in _ingest_transactions(clean_database):
                    frozen_consumer.append(first.process.proc.pid)
                    return True
                os.kill(first.process.proc.pid, signal.SIGCONT)
            return False

        publishing = Publishing(
            topic, workload, rate=3_000, until=lambda: bool(frozen_consumer), at_least=2_000
        )
        try:
            wait_until(freeze_it_in_a_transaction, 60, "the consumer frozen inside a save")
            frozen_at = time.monotonic()
            publishing.join()
            with _running(clean_database, topic, spawn, "consume-next") as second:
                took_over_s = _finish(clean_database, topic, publishing.published, commits, second)
                second.process.stop(signal.SIGTERM)
        finally:
            os.kill(first.process.proc.pid, signal.SIGCONT)
        first.process.stop(signal.SIGTERM, timeout=60)
        first.close()
    # The frozen consumer may have dead-lettered messages whose offsets it had not committed
    # yet: the next owner reads them again (at least once, as after a crash).
    result = audit(
        clean_database,
        topic,
        f"group-{topic}",
        PARTITIONS,
        publishing.published,
        commits,
        allow_dlq_duplicates=True,
    )
    figures.record(
        **result.figures(),
        finished_by_next_owner_s=time.monotonic() - frozen_at,
        took_over_s=took_over_s,
    )
    assert result.problems == []
