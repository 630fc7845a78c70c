"""A PostgreSQL that stops answering (every server process frozen: connections stay open,
nothing comes back, as with a frozen VM or dropped packets) costs a miss one timeout, not
a hang: the first misses answer 503 within the lookup timeout and open the repository's
circuit, later misses answer 503 at once, cached orders keep answering 200, and once the
server answers again the same misses answer 200.

A real ``order-service http`` process (uvicorn, memory cache) over orders saved in
PostgreSQL, of which the newest are loaded into its cache at start.
"""

from __future__ import annotations

import itertools
import math
import signal
import time

import httpx
import pytest

from adapters.postgres.repository import PostgresOrderRepository
from entrypoints.http.lookups import REPOSITORY_TIMEOUT
from tests.contracts.repository import numbered
from tests.faults.harness.kafka import new_topic
from tests.faults.harness.measures import Figures, HttpLoad, latency_figures, write_samples
from tests.faults.harness.servers import frozen_postgres
from tests.support import Spawn, free_port, http_up, service_env, wait_until

pytestmark = pytest.mark.faults

STORED = 6_000
CACHED = 100  # the newest, loaded at start; each miss asks for another of the others
NOISE_S = 1.0
# The first misses' timeout, then at least 3 s with the circuit open, then time for the
# last misses sent to be answered before the thaw.
FROZEN_S = 2 * (REPOSITORY_TIMEOUT + NOISE_S) + 3.0


def test_a_postgres_that_stops_answering_costs_one_timeout_not_a_hang(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    orders = [numbered(i, prefix="hung-") for i in range(STORED)]
    repository = PostgresOrderRepository.open(clean_database, pool_size=1)
    for start in range(0, STORED, 500):
        repository.save_many(orders[start : start + 500])
    repository.close()
    cached = [o.order_uid for o in orders[-CACHED:]]
    uncached = [o.order_uid for o in orders[:-CACHED]]

    port = free_port()
    env = service_env(
        clean_database, new_topic(1), http_port=port, cache_backend="memory",
        warm_up_orders=CACHED, warm_up_timeout=60,
    )  # fmt: skip
    server = spawn("http", env, "http")
    wait_until(http_up(f"http://127.0.0.1:{port}/healthz"), 60, "the HTTP server", [server])
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        assert http.get("/order", params={"id": uncached[0]}).status_code == 200  # PG answers
    timeout = REPOSITORY_TIMEOUT + 10  # the client's own: a hang shows as status 0
    hits = HttpLoad(port, lambda rng: f"/order?id={rng.choice(cached)}", 2, 0.02, timeout)
    # A miss fills the cache: each asks for an id not asked before, so it stays a miss.
    fresh = itertools.count(1)
    misses = HttpLoad(
        port, lambda _: f"/order?id={uncached[next(fresh) % len(uncached)]}", 8, 0.05, timeout
    )
    try:
        time.sleep(1.0)
        with frozen_postgres():
            frozen_at = time.monotonic()  # every process stopped from here
            time.sleep(FROZEN_S)
        thawed_at = time.monotonic()
        wait_until(
            lambda: any(s.status == 200 for s in misses.between(thawed_at, math.inf)),
            REPOSITORY_TIMEOUT + 10,
            "a miss answered 200 again",
            [server],
        )
        back_at = time.monotonic()
        time.sleep(1.0)
    finally:
        hits.stop()
        misses.stop()
    code, _ = server.stop(signal.SIGTERM)
    output = server.output()
    write_samples(figures.test, hits=hits, misses=misses)

    sent_frozen = misses.between(frozen_at, thawed_at - REPOSITORY_TIMEOUT - NOISE_S)
    # Misses sent while the server was frozen (and early enough to have had their answer
    # before it thawed): every one answered 503, none later than the timeout and noise.
    assert sent_frozen, "no miss was sent while PostgreSQL was frozen"
    assert {s.status for s in sent_frozen} == {503}, {s.status for s in sent_frozen}
    slowest = max(s.seconds for s in sent_frozen)
    assert slowest <= REPOSITORY_TIMEOUT + NOISE_S
    # After the first ones the circuit is open: most misses are answered at once (a trial a
    # second may wait out the timeout).
    circuit_open = [s for s in sent_frozen if s.started >= frozen_at + REPOSITORY_TIMEOUT + NOISE_S]
    fast = [s for s in circuit_open if s.seconds < 0.5]
    assert len(circuit_open) > 20
    assert len(fast) >= 0.9 * len(circuit_open), (len(fast), len(circuit_open))
    # Cached orders never waited on PostgreSQL.
    hits_frozen = hits.between(frozen_at, thawed_at)
    assert hits_frozen
    assert {s.status for s in hits_frozen} == {200}
    assert max(s.seconds for s in hits_frozen) < 1.0
    # Back: misses answer 200 again within a timeout and a trial period.
    assert back_at - thawed_at <= REPOSITORY_TIMEOUT + 2.0
    assert code in (0, -signal.SIGTERM)
    assert "Traceback" not in output
    figures.record(
        frozen_s=thawed_at - frozen_at,
        misses_frozen=len(sent_frozen),
        misses_circuit_open=len(circuit_open),
        misses_fast=len(fast),
        slowest_miss_s=slowest,
        back_s=back_at - thawed_at,
        **latency_figures(hits_frozen, "hit_frozen"),
    )
