"""Prometheus metrics for what the core counts (cache hits, saves, rejections, ...)."""

from __future__ import annotations

from prometheus_client import Counter

CACHE_LOOKUPS = Counter(
    "order_service_cache_lookups_total",
    "Cache lookups by backend and result",
    ["backend", "result"],
)
CACHE_ERRORS = Counter(
    "order_service_cache_errors_total", "Failed cache operations by backend", ["backend"]
)
ORDERS = Counter(
    "order_service_orders_total",
    "Messages handled by outcome (saved, already_stored, rejected)",
    ["outcome"],
)
REPOSITORY_READS = Counter(
    "order_service_repository_reads_total", "Lookups that went to PostgreSQL (cache misses)"
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
        for outcome in ("saved", "already_stored", "rejected"):
            self._counters[f"orders_{outcome}"] = ORDERS.labels(outcome)

    def count(self, event: str, amount: int = 1) -> None:
        counter = self._counters.get(event)
        if counter is not None and amount:
            counter.inc(amount)
