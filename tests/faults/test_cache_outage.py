"""Memcached goes away: lookups fall back to PostgreSQL, the consumer keeps saving, the
fault is logged and counted, and once Memcached is back it is used again."""

from __future__ import annotations

import re
import signal
import time

import httpx
import orjson
import pytest

from adapters.caches.memcached import MemcachedOrderCache
from order_core import CacheUnavailable
from tests.faults.harness.audit import CommitWatch, audit, saved_count
from tests.faults.harness.kafka import KafkaProbe, all_done, new_topic
from tests.faults.harness.measures import Figures, metric
from tests.faults.harness.servers import outage
from tests.faults.harness.workload import Workload, publish
from tests.support import MEMCACHED, Spawn, free_port, service_env, wait_until

pytestmark = pytest.mark.faults

ERRORS = ("order_service_cache_errors_total", {"backend": "memcached"})
HITS = ("order_service_cache_lookups_total", {"backend": "memcached", "result": "hit"})
SKIPPED = ("order_service_circuit_skipped_total", {"dependency": "cache"})
CIRCUIT_OPEN = ("order_service_circuit_open", {"dependency": "cache"})


def test_memcached_down_lookups_fall_back_to_postgres_and_nothing_is_lost(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    partitions = 4
    topic = new_topic(partitions)
    group = f"group-{topic}"
    workload = Workload.generate(10_000, seed=909, invalid_ratio=0.05)
    split = 4_000
    before, during = workload.valid_uids_in(0, split), workload.valid_uids_in(split, None)
    documents = {uid: value for value, uid in workload.valid_values.items()}
    port = free_port()
    env = service_env(
        clean_database, topic, cache_backend="memcached", http_host="127.0.0.1", http_port=port
    )
    memcached = MemcachedOrderCache([MEMCACHED])
    memcached.clear()  # no entry left over from an earlier run with the same orders
    server = spawn("serve", env, "serve")
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15)

    def healthy() -> bool:
        try:
            return http.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def metrics() -> str:
        return http.get("/metrics").text

    def served(uid: str) -> float:
        """Look an order up; check it is the published one; return the seconds it took."""
        asked = time.monotonic()
        answer = http.get("/order", params={"id": uid})
        took = time.monotonic() - asked
        assert answer.status_code == 200, (uid, answer.status_code, answer.text)
        assert answer.json() == orjson.loads(documents[uid])
        return took

    probe = KafkaProbe(topic, group, partitions)
    with CommitWatch(topic, group, partitions) as commits:
        wait_until(healthy, 60, "the HTTP server", [server])
        publish(topic, workload, stop=split)
        wait_until(lambda: saved_count(clean_database) == len(before), 60, "first part", [server])
        for uid in before[:20]:
            served(uid)
        hits_before = metric(metrics(), *HITS)
        errors_before = metric(metrics(), *ERRORS)
        skipped_before = metric(metrics(), *SKIPPED)

        with outage("memcached") as mc:
            publish(topic, workload, start=split)
            saving = wait_until(
                lambda: saved_count(clean_database) == len(before) + len(during),
                90,
                "every order saved with the cache down",
                [server],
            )
            slowest = max(served(uid) for uid in [*before[:50], *during[:50]])
            assert http.get("/order", params={"id": "nosuchorder1"}).status_code == 404
            errors_during = metric(metrics(), *ERRORS)
            skipped_during = metric(metrics(), *SKIPPED)
            circuit_open = metric(metrics(), *CIRCUIT_OPEN)
            ready = http.get("/readyz")
            mc.start()

        # Back: lookups fill the cache again and are then answered from it.
        def cache_used() -> bool:
            hits = metric(metrics(), *HITS)
            for uid in during[:5]:
                served(uid)
            try:
                stored = memcached.get(during[0]) is not None
            except CacheUnavailable:  # this test's own client reconnects too
                return False
            return metric(metrics(), *HITS) > hits and stored

        recovered = wait_until(cache_used, 30, "the cache to be used again", [server])
        ends = probe.end_offsets()
        wait_until(all_done(probe, ends), 60, "every offset committed", [server])
    probe.close()
    code, _ = server.stop(signal.SIGTERM)
    memcached.close()
    http.close()

    result = audit(clean_database, topic, group, partitions, workload, commits)
    figures.record(
        **result.figures(),
        saved_while_down=len(during),
        save_all_s=saving,
        slowest_lookup_s=slowest,
        cache_errors=errors_during - errors_before,
        cache_calls_skipped=skipped_during - skipped_before,
        recover_s=recovered,
    )
    assert result.problems == []
    assert hits_before > 0  # the cache was in use before the outage
    assert errors_during > errors_before  # the fault was counted...
    logged = server.output()  # ...and logged by the consumer...
    assert re.search(r"cache (write|repair) failed", logged)
    # ...and then the cache was skipped, by the consumer and the lookups alike, rather than
    # waited on: its circuit opened (logged, and shown as open) and the calls it spared are
    # counted. (A lookup no longer logs a failure of its own: while the circuit is open it
    # does not call the cache at all.)
    assert "cache circuit open" in logged
    assert circuit_open == 1
    assert skipped_during > skipped_before
    assert ready.status_code == 200
    assert ready.json()["checks"]["cache"].startswith("degraded")
    assert slowest < 2.0
    # Shut down gracefully; uvicorn then re-raises the SIGTERM it caught, hence -15 not 0.
    assert code in (0, -signal.SIGTERM)
    assert "consumer closed" in server.output()
    assert "Application shutdown complete" in server.output()
