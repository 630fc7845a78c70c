"""The composition root: the one place that picks adapters from configuration and wires them.

Pools and clients are Resources: opened on first use, closed by ``shutdown_resources()``
(in the HTTP lifespan and at the end of the worker), never at import time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dependency_injector import containers, providers
from psycopg_pool import ConnectionPool

from adapters.kafka.batch_consumer import ConsumerSettings, OrderConsumer
from adapters.kafka.publisher import KafkaPublisher
from adapters.memcached_cache import MemcachedOrderCache
from adapters.memory_cache import InMemoryOrderCache
from adapters.memory_repository import InMemoryOrderRepository
from adapters.postgres.repository import PostgresOrderRepository, open_pool
from adapters.prometheus_telemetry import (
    MeasuredBatchHandler,
    PrometheusTelemetry,
    record_librdkafka_stats,
)
from adapters.redis_cache import RedisOrderCache
from order_core import CacheAdmin, CacheThenRepository, CacheWriter, SaveThenCache


def _ttl(seconds: float) -> float | None:
    return seconds or None


def _db_pool(conninfo: str, max_size: int) -> Iterator[ConnectionPool]:
    pool = open_pool(conninfo, max_size=max_size)
    yield pool
    pool.close()


def _memcached(servers: str, ttl: float) -> Iterator[MemcachedOrderCache]:
    cache = MemcachedOrderCache(
        [s.strip() for s in servers.split(",") if s.strip()], default_ttl=_ttl(ttl)
    )
    yield cache
    cache.close()


def _redis(url: str, ttl: float) -> Iterator[RedisOrderCache]:
    cache = RedisOrderCache(url, default_ttl=_ttl(ttl))
    yield cache
    cache.close()


def _publisher(bootstrap: str) -> Iterator[KafkaPublisher]:
    publisher = KafkaPublisher(bootstrap)
    yield publisher
    publisher.close()


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    telemetry = providers.Singleton(PrometheusTelemetry, cache_backend=config.cache_backend)

    db_pool = providers.Resource(_db_pool, config.database_url, config.db_pool_size)
    repository = providers.Selector(
        config.repository,
        postgres=providers.Singleton(PostgresOrderRepository, pool=db_pool),
        memory=providers.Singleton(InMemoryOrderRepository),
    )

    cache = providers.Selector(
        config.cache_backend,
        memory=providers.Singleton(
            InMemoryOrderCache,
            max_entries=config.cache_max_entries,
            max_bytes=config.cache_max_bytes,
            default_ttl=providers.Callable(_ttl, config.cache_ttl),
        ),
        memcached=providers.Resource(_memcached, config.memcached_servers, config.cache_ttl),
        redis=providers.Resource(_redis, config.redis_url, config.cache_ttl),
    )
    cache_writer = providers.Singleton(CacheWriter, cache=cache, telemetry=telemetry)

    save_then_cache = providers.Singleton(
        SaveThenCache, repository, cache_writer, telemetry, config.max_message_bytes
    )
    lookup = providers.Singleton(
        CacheThenRepository, repository, cache_writer, telemetry, config.negative_ttl
    )
    cache_admin = providers.Singleton(CacheAdmin, repository, cache_writer)

    publisher = providers.Resource(_publisher, config.kafka_bootstrap)
    consumer_settings = providers.Singleton(
        ConsumerSettings,
        bootstrap_servers=config.kafka_bootstrap,
        topic=config.kafka_topic,
        dead_letter_topic=config.kafka_dlq_topic,
        group_id=config.kafka_group,
        batch_size=config.batch_size,
        retry_max=config.retry_max,
    )
    consumer = providers.Factory(
        OrderConsumer,
        consumer_settings,
        handle_batch=providers.Singleton(MeasuredBatchHandler, save_then_cache),
        dead_letters=publisher,
        extra_config=providers.Object(
            {"statistics.interval.ms": 5000, "stats_cb": record_librdkafka_stats}
        ),
    )


def build_container(settings: dict[str, Any]) -> Container:
    container = Container()
    container.config.from_dict(settings)
    return container
