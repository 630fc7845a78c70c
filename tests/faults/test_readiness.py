"""Readiness tells the truth.

- A database that refuses for good (the service's role loses its INSERT privilege): a
  ``consume`` process exits 1 with one clear line; under ``serve`` the consumer stops,
  /readyz and /healthz answer 503 with the reason, and lookups still answer.
- A consumer whose work waits with no batch completed longer than ``ready_max_stall``
  (PostgreSQL stopped): its /readyz answers 503 with the retry's error as the reason, and
  200 again once it has recovered;
  its metrics show it retrying, and the time of its last commit standing still.

Each run is audited like the others once the fault is mended.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import orjson
import psycopg
import pytest

from tests.faults.harness.audit import CommitWatch, audit, saved_count
from tests.faults.harness.kafka import KafkaProbe, all_done, new_topic
from tests.faults.harness.measures import Figures, has_metric, metric
from tests.faults.harness.servers import outage
from tests.faults.harness.workload import Workload, publish
from tests.support import Spawn, free_port, http_up, service_env, wait_until

pytestmark = pytest.mark.faults

READY_MAX_STALL = 3.0
RETRYING = "order_service_consumer_retrying"
RETRY_SECONDS = "order_service_consumer_retry_seconds"
LAST_COMMIT = "order_service_consumer_last_commit_timestamp_seconds"


@contextmanager
def insert_revoked(database_url: str) -> Iterator[None]:
    """The service's role may no longer insert orders (it owns the table, so it may revoke
    its own privilege); granted back whatever happens."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("REVOKE INSERT ON orders FROM CURRENT_USER")
        try:
            yield
        finally:
            conn.execute("GRANT INSERT ON orders TO CURRENT_USER")


def last_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def test_a_database_that_refuses_for_good_stops_the_consumer_and_says_why(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    partitions = 4
    topic = new_topic(partitions)
    group = f"group-{topic}"
    workload = Workload.generate(10_000, seed=1301, invalid_ratio=0.05)
    half = len(workload.pairs) // 2
    port = free_port()
    env = service_env(clean_database, topic)
    probe = KafkaProbe(topic, group, partitions)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15)
    documents = {uid: value for value, uid in workload.valid_values.items()}
    with CommitWatch(topic, group, partitions) as commits:
        # Two instances share the partitions: a consumer alone, and one serving HTTP too.
        consumer = spawn("consume", env, "consume")
        server = spawn("serve", {**env, "ORDER_SERVICE_HTTP_PORT": str(port)}, "serve")
        wait_until(http_up(f"http://127.0.0.1:{port}/healthz"), 60, "the HTTP server", [server])
        wait_until(
            lambda: [len(p) for p in probe.holders()] == [2, 2],
            60,
            "the two instances sharing the partitions",
            [consumer, server],
        )
        publish(topic, workload, stop=half)
        first = workload.valid_uids_in(0, half)
        wait_until(
            lambda: saved_count(clean_database) == len(first), 60, "the first half saved", [server]
        )
        ready_before = http.get("/readyz")

        with insert_revoked(clean_database):
            publish(topic, workload, start=half)  # every partition has work it cannot save
            code = consumer.wait(60)
            wait_until(
                lambda: http.get("/healthz").status_code == 503,
                60,
                "serve's /healthz to fail",
                [server],
            )
            health, ready = http.get("/healthz"), http.get("/readyz")
            # Lookups still answer: orders from PostgreSQL (reads are allowed) or the cache,
            # and unknown ids as not found.
            looked_up = [http.get("/order", params={"id": uid}) for uid in first[:50]]
            unknown = http.get("/order", params={"id": "nosuchorder1"})
            saved_while_refused = saved_count(clean_database)
            committed_while_refused = probe.committed()
            time.sleep(1.0)
            assert probe.committed() == committed_while_refused, "committed what was refused"
        # The privilege is back; the stopped instances are replaced, as an orchestrator would.
        serve_code, _ = server.stop(signal.SIGTERM)
        replacement = spawn("consume", env, "consume-again")
        ends = probe.end_offsets()
        wait_until(all_done(probe, ends), 120, "every offset committed", [replacement])
        replacement_code, _ = replacement.stop(signal.SIGTERM)
    probe.close()
    http.close()

    result = audit(clean_database, topic, group, partitions, workload, commits)
    said = last_line(consumer.output())
    figures.record(
        **result.figures(),
        consume_exit=code,
        consume_said=repr(said),
        saved_while_refused=saved_while_refused,
        healthz=health.status_code,
        readyz=ready.status_code,
    )
    assert result.problems == []
    assert saved_while_refused == len(first)  # nothing of the second half got in
    # `consume`: exit 1, and one line that says why (no traceback).
    assert code == 1
    assert said.startswith("order-service: consumer stopped: "), said
    assert "42501" in said
    assert "permission denied for table orders" in said
    assert "Traceback" not in consumer.output()
    # `serve`: its consumer stopped; not alive, not ready, with the reason; lookups answer.
    assert ready_before.status_code == 200
    reason = health.json()["checks"]["consumer"]
    assert reason.startswith("stopped: ")
    assert "permission denied for table orders" in reason
    assert health.json()["status"] == "failing"
    assert ready.status_code == 503
    assert ready.json()["checks"]["consumer"] == reason
    assert ready.json()["checks"]["repository"] == "ok"
    for uid, answer in zip(first[:50], looked_up, strict=True):
        assert answer.status_code == 200, (uid, answer.text)
        assert answer.json() == orjson.loads(documents[uid])
    assert unknown.status_code == 404
    assert "Traceback" not in server.output()
    assert serve_code in (0, -signal.SIGTERM)
    assert replacement_code == 0


def test_readiness_fails_while_one_batch_is_retried_too_long_and_recovers(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    partitions = 4
    topic = new_topic(partitions)
    group = f"group-{topic}"
    workload = Workload.generate(10_000, seed=1302, invalid_ratio=0.05)
    half = len(workload.pairs) // 2
    ops_port = free_port()
    env = service_env(
        clean_database, topic, ops_port=ops_port, ready_max_stall=READY_MAX_STALL, retry_max=1
    )
    probe = KafkaProbe(topic, group, partitions)
    ops = httpx.Client(base_url=f"http://127.0.0.1:{ops_port}", timeout=15)

    def metrics() -> str:
        return ops.get("/metrics").text

    def timed_readyz() -> tuple[httpx.Response, float]:
        asked = time.monotonic()
        answer = ops.get("/readyz")
        return answer, time.monotonic() - asked

    with CommitWatch(topic, group, partitions) as commits:
        consumer = spawn("consume", env, "consume")
        wait_until(
            http_up(f"http://127.0.0.1:{ops_port}/healthz"), 60, "the ops server", [consumer]
        )
        publish(topic, workload, stop=half)
        first = workload.valid_uids_in(0, half)
        wait_until(
            lambda: saved_count(clean_database) == len(first),
            60,
            "the first half saved",
            [consumer],
        )
        wait_until(lambda: has_metric(metrics(), LAST_COMMIT), 10, "a commit", [consumer])
        ready_before, text_before = ops.get("/readyz"), metrics()

        with outage("postgres") as pg:
            publish(topic, workload, start=half)
            ends = probe.end_offsets()
            wait_until(lambda: metric(metrics(), RETRYING) == 1, 30, "retrying", [consumer])
            last_commit = metric(metrics(), LAST_COMMIT)
            wait_until(
                lambda: metric(metrics(), RETRY_SECONDS) > READY_MAX_STALL + 1,
                30,
                f"one batch retried for over {READY_MAX_STALL:.0f} s",
                [consumer],
            )
            not_ready, readyz_down_s = timed_readyz()
            text_down = metrics()
            health_down = ops.get("/healthz")
            pg.start()

        back = time.time()
        wait_until(lambda: ops.get("/readyz").status_code == 200, 60, "ready again", [consumer])
        wait_until(lambda: metric(metrics(), LAST_COMMIT) > back, 30, "a commit after", [consumer])
        ready_after, text_after = ops.get("/readyz"), metrics()
        wait_until(all_done(probe, ends), 120, "every offset committed", [consumer])
        code, _ = consumer.stop(signal.SIGTERM)
    probe.close()
    ops.close()

    result = audit(clean_database, topic, group, partitions, workload, commits)
    consumer_check = not_ready.json()["checks"]["consumer"]
    figures.record(
        **result.figures(),
        outage_s=pg.seconds,
        readyz_while_down=not_ready.status_code,
        readyz_while_down_s=readyz_down_s,
        consumer_check=repr(consumer_check),
        retry_seconds_seen=metric(text_down, RETRY_SECONDS),
    )
    assert result.problems == []
    # Before: ready, not retrying, commits recorded.
    assert ready_before.status_code == 200
    assert ready_before.json()["checks"]["consumer"] == "ok"
    assert metric(text_before, RETRYING) == 0
    assert metric(text_before, LAST_COMMIT) > 0
    # During: not ready, and the consumer's check says it has retried one batch too long;
    # alive all the same (waiting is not a reason to restart); the last commit stands still.
    assert not_ready.status_code == 503
    assert consumer_check.startswith("no batch completed for "), consumer_check
    assert f"while work waits (limit {READY_MAX_STALL:.0f}s): " in consumer_check, consumer_check
    assert "PostgreSQL unavailable" in consumer_check, consumer_check
    assert not_ready.json()["checks"]["repository"].startswith("unavailable")
    assert health_down.status_code == 200
    assert metric(text_down, RETRYING) == 1
    assert metric(text_down, RETRY_SECONDS) > READY_MAX_STALL
    assert metric(text_down, LAST_COMMIT) == last_commit
    assert last_commit < back
    # After: ready, not retrying, and committing again.
    assert ready_after.json()["checks"]["consumer"] == "ok"
    assert metric(text_after, RETRYING) == 0
    assert metric(text_after, RETRY_SECONDS) == 0
    assert metric(text_after, LAST_COMMIT) > back
    assert code == 0
