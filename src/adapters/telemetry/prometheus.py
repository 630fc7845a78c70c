"""Prometheus metrics: what the core counts, the consumer's batches and lag, the group's lag
as the brokers see it, HTTP latency."""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from adapters.kafka.client.group_lag import GroupLag
from adapters.telemetry.events import ConsumerProgress
from order_core.ingest import IngestResult, PreparedBatch, SaveThenCache

CACHE_LOOKUPS = Counter(
    "order_service_cache_lookups_total",
    "Cache lookups by backend and result (hit, miss, negative_hit)",
    ["backend", "result"],
)
CACHE_ERRORS = Counter(
    "order_service_cache_errors_total", "Failed cache operations by backend", ["backend"]
)
ORDERS = Counter(
    "order_service_orders_total",
    "Messages handled by outcome (saved, already_stored, conflicting, rejected)",
    ["outcome"],
)
REPOSITORY_READS = Counter(
    "order_service_repository_reads_total", "Lookups that went to PostgreSQL (cache misses)"
)
MESSAGES_CONSUMED = Counter(
    "order_service_messages_consumed_total", "Kafka messages handed to the core"
)
DEAD_LETTERED = Counter(
    "order_service_dead_lettered_total", "Invalid messages sent to the dead-letter topic"
)
BATCH_SIZE = Histogram(
    "order_service_batch_size",
    "Messages per consumer batch",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
)
SAVE_SECONDS = Histogram(
    "order_service_batch_save_seconds",
    "Time to validate, save and cache one batch",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# Gauges say how to merge the values of several worker processes (multiprocess mode).
CONSUMER_LAG = Gauge(
    "order_service_consumer_lag",
    "Messages behind the end of the partition (from librdkafka)",
    ["topic", "partition"],
    multiprocess_mode="livemostrecent",
)
# The group's lag read from the brokers (adapters/kafka/client/group_lag.py) by every
# process that serves metrics: each reports the same figure, so with several worker
# processes the most recent reading of any live one is the one shown.
GROUP_LAG_MESSAGES = Gauge(
    "order_service_group_lag_messages",
    "Messages of the partition the consumer group has not consumed: from its committed offset"
    " (else the log start) to the end, read from the brokers",
    ["group", "topic", "partition"],
    multiprocess_mode="livemostrecent",
)
GROUP_LAG_SECONDS = Gauge(
    "order_service_group_lag_seconds",
    "Age of the oldest message of the partition the consumer group has not consumed"
    " (0: none), read from the brokers",
    ["group", "topic", "partition"],
    multiprocess_mode="livemostrecent",
)
GROUP_LAG_UP = Gauge(
    "order_service_group_lag_up",
    "1 when the last reading of the group's lag from the brokers succeeded; 0 when it did"
    " not (the brokers did not answer in time, no such topic): its figures are then gone",
    ["group", "topic"],
    multiprocess_mode="livemostrecent",
)
CIRCUIT_OPEN = Gauge(
    "order_service_circuit_open",
    "1 while the circuit breaker skips the dependency (cache, repository)",
    ["dependency"],
    multiprocess_mode="livemax",
)
CONSUMER_UP = Gauge(
    "order_service_consumer_up",
    "1 while the consumer runs, 0 once it stopped",
    multiprocess_mode="livemin",
)
CONSUMER_RETRYING = Gauge(
    "order_service_consumer_retrying",
    "1 while one batch is being retried",
    multiprocess_mode="livemax",
)
CONSUMER_RETRY_SECONDS = Gauge(
    "order_service_consumer_retry_seconds",
    "How long the current batch has been retried",
    multiprocess_mode="livemax",
)
CONSUMER_LAST_COMMIT = Gauge(
    "order_service_consumer_last_commit_timestamp_seconds",
    "Unix time of the last offset commit",
    multiprocess_mode="livemax",
)
CIRCUIT_SKIPPED = Counter(
    "order_service_circuit_skipped",
    "Calls skipped because the dependency's circuit was open",
    ["dependency"],
)
HTTP_SECONDS = Histogram(
    "order_service_http_request_seconds",
    "HTTP request latency by route and status",
    ["route", "method", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class PrometheusTelemetry:
    """Implements order_core.ports.Telemetry on prometheus-client counters."""

    def __init__(self, cache_backend: str) -> None:
        lookups = {
            "cache_hits": "hit",
            "cache_misses": "miss",
            "cache_negative_hits": "negative_hit",
        }
        self._counters = {
            event: CACHE_LOOKUPS.labels(cache_backend, result) for event, result in lookups.items()
        }
        self._counters["cache_errors"] = CACHE_ERRORS.labels(cache_backend)
        self._counters["repository_reads"] = REPOSITORY_READS
        for outcome in ("saved", "already_stored", "conflicting", "rejected"):
            self._counters[f"orders_{outcome}"] = ORDERS.labels(outcome)
        self._gauges = {}
        for dependency in ("cache", "repository"):
            self._counters[f"{dependency}_circuit_skipped"] = CIRCUIT_SKIPPED.labels(dependency)
            self._gauges[f"{dependency}_circuit_open"] = CIRCUIT_OPEN.labels(dependency)
            self._gauges[f"{dependency}_circuit_open"].set(0)

    def count(self, event: str, amount: int = 1) -> None:
        counter = self._counters.get(event)
        if counter is not None and amount:
            counter.inc(amount)

    def gauge(self, name: str, value: float) -> None:
        gauge = self._gauges.get(name)
        if gauge is not None:
            gauge.set(value)


class MeasuredIngest:
    """Wraps the save-then-cache use case to record batch sizes, latency and outcomes."""

    def __init__(self, ingest: SaveThenCache) -> None:
        self._ingest = ingest

    def prepare(self, messages: Sequence[bytes]) -> PreparedBatch:
        return self._ingest.prepare(messages)

    def store(self, batch: PreparedBatch) -> IngestResult:
        started = time.perf_counter()
        result = self._ingest.store(batch)
        if batch.size:
            SAVE_SECONDS.observe(time.perf_counter() - started)
            BATCH_SIZE.observe(batch.size)
            MESSAGES_CONSUMED.inc(batch.size)
            DEAD_LETTERED.inc(len(result.rejected))
        return result


def record_librdkafka_stats(stats_json: str) -> None:
    """librdkafka's ``stats_cb``: publish the consumer lag of each assigned partition.

    The lag runs from the last committed offset (what is saved) to the end of the log;
    before the first commit, from the consumer's position or the start of the log.
    """
    stats = json.loads(stats_json)
    for topic, data in stats.get("topics", {}).items():
        for partition, pdata in data.get("partitions", {}).items():
            if partition == "-1":  # librdkafka's internal "unassigned" partition
                continue
            end = pdata.get("ls_offset", -1)
            # Saved up to the commit; else fetched up to the position; else nothing read yet.
            position = pdata.get("committed_offset", -1)
            if position < 0:
                position = pdata.get("app_offset", -1)
            if position < 0:
                position = pdata.get("lo_offset", -1)
            if pdata.get("fetch_state", "active") not in _FETCHING:
                _forget(topic, partition)  # not this consumer's (any more): no stale lag
            elif end >= 0 and position >= 0:
                CONSUMER_LAG.labels(topic, partition).set(max(0, end - position))
                _lag_reported.add((topic, partition))


# librdkafka's fetch states of a partition this consumer holds ("none", "stopping",
# "stopped": one it does not, or no longer, fetches).
_FETCHING = frozenset({"active", "offset-query", "offset-wait"})


def forget_partitions(partitions: Iterable[tuple[str, int]]) -> None:
    """Partitions revoked or lost: their lag is the next owner's to report, not ours."""
    for topic, partition in partitions:
        _forget(topic, str(partition))


def _forget(topic: str, partition: str) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several worker processes share the metric files, and prometheus_client cannot
        # remove a labelled series there: a 0 instead, which the recording rule's max
        # over instances lets the owner's figure override.
        if (topic, partition) in _lag_reported:
            CONSUMER_LAG.labels(topic, partition).set(0)
        return
    with contextlib.suppress(KeyError):  # never reported here
        CONSUMER_LAG.remove(topic, partition)


_lag_reported: set[tuple[str, str]] = set()


def report_consumer_state(progress: ConsumerProgress) -> None:
    """Publish the consumer's state (called by the consumer as it goes: cheap gauge sets)."""
    CONSUMER_UP.set(1 if progress.running else 0)
    CONSUMER_RETRYING.set(1 if progress.retrying_for else 0)
    CONSUMER_RETRY_SECONDS.set(progress.retrying_for)
    if progress.last_commit_at is not None:
        CONSUMER_LAST_COMMIT.set(progress.last_commit_at)


def report_group_lag(reading: GroupLag) -> None:
    """Publish one reading of the group's lag. An unknown one drops the figures of the
    partitions (no stale figure stands as current) and sets ``..._group_lag_up`` to 0."""
    key = (reading.group, reading.topic)
    reported = _group_lag_reported.setdefault(key, set())
    shared = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
    if reading.partitions is None:
        _drop_group_lag(key, reported, shared=shared)
        if not shared:  # removed; in shared files, NaN again at each unknown reading
            reported.clear()
        GROUP_LAG_UP.labels(*key).set(0)
        return
    now = {str(lag.partition) for lag in reading.partitions}
    _drop_group_lag(key, reported - now, shared=shared)  # a topic made again with fewer
    for lag in reading.partitions:
        partition = str(lag.partition)
        GROUP_LAG_MESSAGES.labels(*key, partition).set(lag.messages)
        GROUP_LAG_SECONDS.labels(*key, partition).set(lag.seconds)
    _group_lag_reported[key] = now
    GROUP_LAG_UP.labels(*key).set(1)


def _drop_group_lag(key: tuple[str, str], partitions: set[str], *, shared: bool) -> None:
    for partition in sorted(partitions):
        for gauge in (GROUP_LAG_MESSAGES, GROUP_LAG_SECONDS):
            if shared:
                # A labelled series cannot be removed from the shared files of several
                # worker processes: NaN ("no figure"), left out by the recording rules.
                gauge.labels(*key, partition).set(math.nan)
            else:
                with contextlib.suppress(KeyError):
                    gauge.remove(*key, partition)


_group_lag_reported: dict[tuple[str, str], set[str]] = {}


_request_children: dict[tuple[str, str, int], Any] = {}


def request_served(route: str, method: str, status: int, seconds: float) -> None:
    """One HTTP request answered (``route``: its template, never the raw path, so ids never
    become label values); the labelled child is looked up once per (route, method, status)."""
    key = (route, method, status)
    child = _request_children.get(key)
    if child is None:
        child = _request_children[key] = HTTP_SECONDS.labels(route, method, str(status))
    child.observe(seconds)


def metrics_exposition() -> tuple[bytes, str]:
    """The /metrics body: this process's registry, or with several worker processes
    (``PROMETHEUS_MULTIPROC_DIR`` set) all of them merged."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
