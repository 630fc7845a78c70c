"""The shared caches lose a node under load (no near cache: every lookup asks the shared
one), while orders keep arriving:

- a Redis Cluster primary SIGKILLed: its replica takes its slots over within seconds;
  meanwhile the lookups of its keys are answered from PostgreSQL, and after, from Redis
  again; every lookup answers 200, and ingestion loses and doubles nothing;
- one of two Memcached nodes SIGKILLed: the other keeps its share of the keys; lookups of
  the dead node's keys are answered from PostgreSQL; every lookup answers 200.

Both print how long and how many lookups needed PostgreSQL after the kill. One failure
opens the cache's circuit breaker for the whole cache (not per node): while a Memcached node
is down, lookups of the live node's keys mostly go to PostgreSQL too (the figures say how
many).
"""

from __future__ import annotations

import collections
import signal
import threading
import time

import httpx
import pytest
import redis
from redis.cluster import RedisCluster

from adapters.caches.limits import DEFAULT_KEY_PREFIX
from tests.cluster import nodes
from tests.faults.harness.audit import CommitWatch, audit, saved_count, saved_uids
from tests.faults.harness.kafka import KafkaProbe, all_done, new_topic
from tests.faults.harness.measures import Figures, HttpLoad, metric
from tests.faults.harness.workload import Publishing, Workload
from tests.support import ServiceProcess, Spawn, free_port, http_up, service_env, wait_until

pytestmark = pytest.mark.cluster

ORDERS = 10_000
PARTITIONS = 4
REPOSITORY_READS = "order_service_repository_reads_total"
# The replica of a dead primary is promoted after cluster-node-timeout (2 s) and an election.
REDIS_FAILOVER_BOUND = 15.0


class MetricsWatch:
    """Samples a counter of one process's /metrics in the background: (time, value)."""

    def __init__(self, port: int, name: str, labels: dict[str, str] | None = None) -> None:
        self.samples: list[tuple[float, float]] = []
        self._url, self._name, self._labels = f"http://127.0.0.1:{port}/metrics", name, labels
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                try:
                    text = client.get(self._url).text
                    self.samples.append((time.monotonic(), metric(text, self._name, self._labels)))
                except httpx.HTTPError:
                    pass
                self._stop.wait(0.25)

    def last_rise_after(self, start: float) -> float:
        """Seconds from START to the last sample at which the counter had grown (0: never)."""
        last, previous = 0.0, None
        for at, value in self.samples:
            if previous is not None and value > previous and at >= start:
                last = at - start
            previous = value
        return last

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def _processes(
    spawn: Spawn, database: str, topic: str, **cache: object
) -> tuple[ServiceProcess, ServiceProcess, int]:
    """A consumer and an http process on the shared cache, no near cache."""
    settings = {"near_cache_max_entries": 0, **cache}
    consumer = spawn("consume", service_env(database, topic, **settings), "consumer")
    port = free_port()
    web = spawn("http", service_env(database, topic, http_port=port, **settings), "http")
    wait_until(http_up(f"http://127.0.0.1:{port}/healthz"), 60, "the http process", [web])
    return consumer, web, port


def test_a_redis_cluster_primary_killed_under_hits_and_ingest(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    topic = new_topic(PARTITIONS)
    group = f"group-{topic}"
    consumer, web, port = _processes(
        spawn, clean_database, topic, cache_backend="redis", redis_cluster="true"
    )
    reserve = Workload.generate(3 * ORDERS, seed=5001, invalid_ratio=0.05)
    recovered = threading.Event()
    with CommitWatch(topic, group, PARTITIONS) as commits:
        publishing = Publishing(topic, reserve, rate=1_000, at_least=ORDERS, until=recovered.is_set)
        wait_until(lambda: saved_count(clean_database) >= 3_000, 90, "3,000 saved", [consumer])
        cached = sorted(saved_uids(clean_database))[:2_000]  # in Redis since they were saved
        client = RedisCluster.from_url(nodes.REDIS)
        owners = collections.Counter(
            client.get_node_from_key(DEFAULT_KEY_PREFIX + uid).port  # type: ignore[no-untyped-call]
            for uid in cached
        )
        client.close()
        port_killed, keys_there = owners.most_common(1)[0]
        victim = nodes.redis_node(port_killed - nodes.PORTS.redis(0))
        reads = MetricsWatch(port, REPOSITORY_READS)
        hits = HttpLoad(port, lambda rng: f"/order?id={rng.choice(cached)}", 4, pause=0.005)
        time.sleep(2.0)
        pid = victim.pid()
        assert pid is not None
        killed = time.monotonic()
        nodes.kill_node(pid)
        # Lookups go to PostgreSQL until a replica holds the dead primary's slots.
        wait_until(lambda: reads.last_rise_after(killed) > 0, 30, "reads from PostgreSQL")
        time.sleep(REDIS_FAILOVER_BOUND)
        recovered.set()
        hits.stop()
        reads.stop()
        rejoined = nodes.start("redis-cluster")
        role = redis.Redis(port=victim.port).info("replication")["role"]
        publishing.join()
        workload = publishing.published
        probe = KafkaProbe(topic, group, PARTITIONS)
        try:
            wait_until(all_done(probe, probe.end_offsets()), 180, "offsets committed", [consumer])
        finally:
            probe.close()
    codes = [consumer.stop(signal.SIGTERM)[0], web.stop(signal.SIGTERM)[0]]

    result = audit(clean_database, topic, group, PARTITIONS, workload, commits)
    needed_postgres = reads.last_rise_after(killed)
    statuses = collections.Counter(s.status for s in hits.samples)
    figures.record(
        **result.figures(),
        killed=victim.name,
        its_share_of_hit_keys=f"{keys_there}/{len(cached)}",
        lookups=len(hits.samples),
        lookup_statuses=dict(statuses),
        lookups_needed_postgres_for_s=round(needed_postgres, 2),
        rejoined_s=rejoined,
        rejoined_as=role,
    )
    assert result.problems == []
    assert codes == [0, 0]
    assert set(statuses) == {200}, statuses
    # Hits came from Redis again within the bound (the last seconds read nothing else).
    assert 0 < needed_postgres < REDIS_FAILOVER_BOUND - 2
    assert role == "slave"  # the old primary came back as its successor's replica


def test_one_of_two_memcached_nodes_killed_under_hits(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    topic = new_topic(PARTITIONS)
    group = f"group-{topic}"
    consumer, web, port = _processes(
        spawn, clean_database, topic, cache_backend="memcached", memcached_servers=nodes.MEMCACHED
    )
    reserve = Workload.generate(3 * ORDERS, seed=5002, invalid_ratio=0.05)
    done = threading.Event()
    with CommitWatch(topic, group, PARTITIONS) as commits:
        publishing = Publishing(topic, reserve, rate=1_000, at_least=ORDERS, until=done.is_set)
        wait_until(lambda: saved_count(clean_database) >= 3_000, 90, "3,000 saved", [consumer])
        cached = sorted(saved_uids(clean_database))[:2_000]
        reads = MetricsWatch(port, REPOSITORY_READS)
        hits = HttpLoad(port, lambda rng: f"/order?id={rng.choice(cached)}", 4, pause=0.005)
        time.sleep(3.0)
        before = len(hits.samples)
        victim = nodes.memcached_node(1)
        pid = victim.pid()
        assert pid is not None
        killed = time.monotonic()
        nodes.kill_node(pid)
        time.sleep(5.0)
        done.set()
        hits.stop()
        reads.stop()
        rejoined = nodes.start("memcached-pair")
        publishing.join()
        workload = publishing.published
        probe = KafkaProbe(topic, group, PARTITIONS)
        try:
            wait_until(all_done(probe, probe.end_offsets()), 180, "offsets committed", [consumer])
        finally:
            probe.close()
    codes = [consumer.stop(signal.SIGTERM)[0], web.stop(signal.SIGTERM)[0]]

    result = audit(clean_database, topic, group, PARTITIONS, workload, commits)
    after_kill = [s for s in hits.samples if s.started >= killed]
    reads_before = [v for at, v in reads.samples if at < killed]
    reads_after = [v for at, v in reads.samples if at >= killed]
    from_postgres = (reads_after[-1] - reads_after[0]) if len(reads_after) > 1 else 0.0
    statuses = collections.Counter(s.status for s in hits.samples)
    figures.record(
        **result.figures(),
        lookups_before_kill=before,
        lookups_after_kill=len(after_kill),
        read_from_postgres_after_kill=int(from_postgres),
        lookup_statuses=dict(statuses),
        rejoined_s=rejoined,
    )
    assert result.problems == []
    assert codes == [0, 0]
    assert set(statuses) == {200}, statuses
    # The dead node's keys came from PostgreSQL (so, with the breaker open, did most).
    assert reads_before
    assert 0 < from_postgres <= len(after_kill)
