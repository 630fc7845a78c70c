"""The benchmark's targets as numbers: the rates, latencies, shares and memory ratio that a
run is held to (the issue's, for ``make bench``: medians, this machine, default settings),
the connections they are measured at, and the rule for offering another ASGI server.
"""

from __future__ import annotations

# The targets (the issue's, for `make bench`: medians, this machine, default settings).
INGEST_RATE_TARGET = 20_000.0  # orders/s, 100,000 realistic orders
CEILING_SHARE_TARGET = 0.5  # of the raw COPY ceiling at the service's batch size
HIT_RATE_TARGET = 20_000.0  # memory-cache hits/s, one HTTP worker, 16 connections
P99_TARGET_MS = 5.0  # p99 of every kind of hit, same runs
SHARED_SHARE_TARGET = 0.8  # memcached and redis hits against memory hits, same run
MISS_RATE_TARGET = 5_000.0  # misses (PostgreSQL) per second
VISIBILITY_P99_TARGET_MS = 250.0  # publish acknowledged -> first 200, at 1,000 orders/s
MEMORY_TARGET = 2.0  # bytes per cached order at most twice its JSON
TARGET_CONNECTIONS = 16
OTHER_SERVER_FACTOR = 1.3  # another ASGI server is offered only if this much faster
