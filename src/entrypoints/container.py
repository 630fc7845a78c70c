"""The composition root: the one place that picks adapters from the settings and wires them.

Pools and clients are Resources: opened on first use, closed by ``shutdown_resources()``
(in the HTTP lifespan and at the end of the worker), never at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from dependency_injector import containers, providers

from adapters.kafka.dead_letter_reader import DeadLetterReader
from adapters.kafka.dead_letters import DeadLetterPublisher
from adapters.kafka.order_consumer import ConsumerSettings, OrderConsumer
from adapters.kafka.publisher import KafkaPublisher
from adapters.memcached_cache import MemcachedOrderCache
from adapters.memory_cache import InMemoryOrderCache
from adapters.memory_repository import InMemoryOrderRepository
from adapters.near_cache import NearCachedOrderCache
from adapters.postgres.pool import SessionBounds
from adapters.postgres.repository import PostgresOrderRepository
from adapters.prometheus_telemetry import (
    MeasuredIngest,
    PrometheusTelemetry,
    record_librdkafka_stats,
    report_consumer_state,
)
from adapters.redis_cache import RedisOrderCache
from adapters.tracing import tracing_from_environment
from entrypoints.settings import Settings
from order_core import (
    CacheAdmin,
    CacheGateway,
    CacheThenRepository,
    CustomerOrders,
    OrderCache,
    SaveThenCache,
)


def _postgres(s: Settings) -> Iterator[PostgresOrderRepository]:
    repository = PostgresOrderRepository.open(
        s.database_url, pool_size=s.db_pool_size, bounds=_session_bounds(s)
    )
    yield repository
    repository.close()


def _session_bounds(s: Settings) -> SessionBounds:
    return SessionBounds(
        statement_timeout=s.db_statement_timeout,
        lock_timeout=s.db_lock_timeout,
        tcp_timeout=s.db_tcp_timeout,
    )


def _memory_cache(s: Settings) -> InMemoryOrderCache:
    return InMemoryOrderCache(
        max_entries=s.cache_max_entries,
        max_bytes=s.cache_max_bytes,
        default_ttl=s.cache_ttl or None,
    )


def _near(shared: OrderCache, s: Settings) -> OrderCache:
    """The shared cache, fronted by an in-process copy of the orders it served."""
    if not s.near_cache_max_entries:
        return shared
    near = InMemoryOrderCache(
        max_entries=s.near_cache_max_entries,
        max_bytes=s.near_cache_max_bytes,
        default_ttl=s.cache_ttl or None,
    )
    return NearCachedOrderCache(shared, near)


def _memcached(s: Settings) -> Iterator[OrderCache]:
    servers = [part.strip() for part in s.memcached_servers.split(",") if part.strip()]
    cache = MemcachedOrderCache(servers, default_ttl=s.cache_ttl or None)
    yield _near(cache, s)
    cache.close()


def _redis(s: Settings) -> Iterator[OrderCache]:
    cache = RedisOrderCache(s.redis_url, default_ttl=s.cache_ttl or None)
    yield _near(cache, s)
    cache.close()


def _publisher(s: Settings) -> Iterator[KafkaPublisher]:
    publisher = KafkaPublisher(s.kafka_bootstrap, s.kafka_client_config())
    yield publisher
    publisher.close()


def _dead_letter_reader(s: Settings) -> DeadLetterReader:
    return DeadLetterReader(s.kafka_bootstrap, s.kafka_dlq_topic, s.kafka_client_config())


def _consumer_settings(s: Settings) -> ConsumerSettings:
    return ConsumerSettings(
        bootstrap_servers=s.kafka_bootstrap,
        topic=s.kafka_topic,
        group_id=s.kafka_group,
        batch_size=s.batch_size,
        retry_max=s.retry_max,
        client_config=s.kafka_client_config(),
        batch_max_bytes=s.batch_max_bytes,
        # After the repository's own deadline, so that the watchdog ends the save first.
        save_timeout=_session_bounds(s).save_deadline + 5.0,
        shutdown_timeout=s.shutdown_timeout,
    )


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    telemetry = providers.Singleton(PrometheusTelemetry, settings.provided.cache_backend)
    tracing = providers.Singleton(tracing_from_environment, providers.Object(os.environ))

    repository = providers.Selector(
        settings.provided.repository,
        postgres=providers.Resource(_postgres, settings),
        memory=providers.Singleton(InMemoryOrderRepository),
    )
    cache = providers.Selector(
        settings.provided.cache_backend,
        memory=providers.Singleton(_memory_cache, settings),
        memcached=providers.Resource(_memcached, settings),
        redis=providers.Resource(_redis, settings),
    )
    cache_gateway = providers.Singleton(
        CacheGateway, cache, telemetry, negative_ttl=settings.provided.negative_ttl
    )

    ingest = providers.Singleton(
        SaveThenCache, repository, cache_gateway, telemetry, settings.provided.max_message_bytes
    )
    lookup = providers.Singleton(CacheThenRepository, repository, cache_gateway, telemetry)
    cache_admin = providers.Singleton(CacheAdmin, repository, cache_gateway)
    customer_orders = providers.Singleton(CustomerOrders, repository)

    publisher = providers.Resource(_publisher, settings)
    dead_letters = providers.Singleton(
        DeadLetterPublisher, publisher, settings.provided.kafka_dlq_topic
    )
    # A new reader each time (a consumer is not shared between threads): close it after use.
    dead_letter_reader = providers.Factory(_dead_letter_reader, settings)
    consumer = providers.Factory(
        OrderConsumer,
        providers.Callable(_consumer_settings, settings),
        ingest=providers.Singleton(MeasuredIngest, ingest),
        dead_letters=dead_letters,
        stats_cb=providers.Object(record_librdkafka_stats),
        tracing=tracing,
        report_state=providers.Object(report_consumer_state),
    )


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)
