"""Where the benchmarks' servers are and what a disturbed measurement raises.

The addresses of PostgreSQL, Kafka, Memcached and Redis come from the same environment
variables as the integration tests, so one setting points both elsewhere; ``servers`` says
where they were for the results. ``Disturbed`` is what a measurement raises when a server
went away meanwhile, so that the run repeats it. ``ROOT`` is the repository's top directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

# The same variables as tests/integration/conftest.py, so one setting points both elsewhere.
ADMIN_URL = os.environ.get(
    "ORDER_SERVICE_TEST_DATABASE_URL", "postgresql://orders:orders@127.0.0.1:5432/orders"
)
KAFKA = os.environ.get("ORDER_SERVICE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
MEMCACHED = os.environ.get("ORDER_SERVICE_MEMCACHED_SERVERS", "127.0.0.1:11211")
REDIS = os.environ.get("ORDER_SERVICE_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent


class Disturbed(RuntimeError):
    """A server went away during a measurement: the figure is void, the run is repeated."""


def servers() -> str:
    """Where the servers were (host:port only: the database URL may hold a password)."""
    pg = psycopg.conninfo.conninfo_to_dict(ADMIN_URL)
    redis = REDIS.split("@")[-1].removeprefix("redis://")
    return (
        f"PostgreSQL {pg.get('host', 'localhost')}:{pg.get('port', 5432)}, Kafka {KAFKA}, "
        f"Memcached {MEMCACHED}, Redis {redis}"
    )
