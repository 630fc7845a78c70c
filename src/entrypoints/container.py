"""The composition root: the one place that picks adapters from the settings and wires them.

``Container`` declares the providers (configuration, resources with their lifecycles, a
selector for each backend). Pools and clients are Resources: opened on first use, closed
by ``shutdown_resources()``, never at import time. Nothing else reads the container: each
entrypoint is handed what it needs, built here (``http_dependencies``,
``worker_dependencies``, ``cache_tools``, ``dead_letter_tools``). The processes that serve
metrics also read the group's lag from the brokers in the background (``group_lag``, a
Resource too: started by ``http_dependencies`` and by ``worker_dependencies`` when asked,
stopped by ``shutdown_resources()``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import attrs
from dependency_injector import containers, providers

from adapters.caches.memcached import MemcachedOrderCache
from adapters.caches.memory import InMemoryOrderCache
from adapters.caches.near import NearCachedOrderCache
from adapters.caches.redis import RedisOrderCache
from adapters.kafka.client.group_lag import GroupLagPoller, LagSource
from adapters.kafka.client.publisher import KafkaPublisher
from adapters.kafka.client.records import Record
from adapters.kafka.client.topics import TopicSpec, ensure_topics, probe
from adapters.kafka.dead_letters.format import replay_record
from adapters.kafka.dead_letters.publisher import DeadLetterPublisher
from adapters.kafka.dead_letters.reader import DeadLetterReader
from adapters.kafka.ingest.consumer import ConsumerSettings, OrderConsumer
from adapters.memory_repository import InMemoryOrderRepository
from adapters.postgres.pool import SessionBounds
from adapters.postgres.repository import PostgresOrderRepository
from adapters.telemetry.prometheus import (
    MeasuredIngest,
    PrometheusTelemetry,
    forget_partitions,
    record_librdkafka_stats,
    report_consumer_state,
    report_group_lag,
)
from adapters.telemetry.tracing import Tracing, tracing_from_environment
from entrypoints.settings import Settings
from order_core import (
    CacheAdmin,
    CacheGateway,
    CacheThenRepository,
    CustomerOrders,
    DeadLetter,
    DeadLetterArchive,
    OrderCache,
    SaveThenCache,
)


def _postgres(s: Settings) -> Iterator[PostgresOrderRepository]:
    repository = PostgresOrderRepository.open(
        s.database_url,
        pool_size=s.db_pool_size,
        bounds=_session_bounds(s),
        prepared_statements=s.db_prepared_statements,
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
    cache = RedisOrderCache(s.redis_url, cluster=s.redis_cluster, default_ttl=s.cache_ttl or None)
    yield _near(cache, s)
    cache.close()


def _publisher(s: Settings) -> Iterator[KafkaPublisher]:
    publisher = KafkaPublisher(s.kafka_bootstrap, s.kafka_client_config())
    yield publisher
    publisher.close()


def _group_lag(s: Settings) -> Iterator[GroupLagPoller | None]:
    """The group's lag read from the brokers every ``lag_poll_seconds`` (0: never) into the
    metrics."""
    if not s.lag_poll_seconds:
        yield None
        return
    source = LagSource(s.kafka_bootstrap, s.kafka_group, s.kafka_topic, s.kafka_client_config())
    poller = GroupLagPoller(source, s.lag_poll_seconds, report_group_lag)
    poller.start()
    yield poller
    # Shutdown waits a moment, not a whole reading against a broker that does not answer:
    # the thread is a daemon and ends by that reading's deadline (it never joined a group).
    poller.stop(timeout=2.0)


def _dead_letter_reader(s: Settings) -> DeadLetterArchive:
    return DeadLetterReader(s.kafka_bootstrap, s.kafka_dlq_topic, s.kafka_client_config())


def prepare_topics(s: Settings, timeout: float = 10.0) -> None:
    """Create the orders and dead-letter topics if missing (unless ``kafka_create_topics``
    is off: then only reach the brokers). Raises KafkaUnreachable, KafkaCredentialsRefused,
    KafkaException."""
    if not s.kafka_create_topics:
        probe(s.kafka_bootstrap, s.kafka_client_config(), timeout)
        return
    config = {}
    if s.kafka_min_insync_replicas:
        config["min.insync.replicas"] = str(s.kafka_min_insync_replicas)
    days = s.kafka_dlq_retention_days
    retention = str(round(days * 86_400_000)) if days else "-1"  # -1: kept for ever
    replicas = s.kafka_replication_factor
    ensure_topics(
        s.kafka_bootstrap,
        {
            s.kafka_topic: TopicSpec(s.kafka_partitions, replicas, config),
            # One partition by default (dead letters are few); the readers merge however
            # many it has by time.
            s.kafka_dlq_topic: TopicSpec(
                s.kafka_dlq_partitions, replicas, {**config, "retention.ms": retention}
            ),
        },
        client_config=s.kafka_client_config(),
        timeout=timeout,
    )


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
    dead_letter_archive = providers.Factory(_dead_letter_reader, settings)
    topics = providers.Callable(prepare_topics, settings)  # makes them if missing
    group_lag = providers.Resource(_group_lag, settings)
    consumer = providers.Factory(
        OrderConsumer,
        providers.Callable(_consumer_settings, settings),
        ingest=providers.Singleton(MeasuredIngest, ingest),
        dead_letters=dead_letters,
        stats_cb=providers.Object(record_librdkafka_stats),
        tracing=tracing,
        report_state=providers.Object(report_consumer_state),
        released=providers.Object(forget_partitions),
    )


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)


# What each entrypoint is handed.


@attrs.frozen
class Probes:
    """What readiness asks of the backends: each call raises the port's error on failure."""

    repository: Callable[[], None]
    cache: Callable[[], object]
    max_stall: float  # the consumer's longest stall that still counts as ready


@attrs.frozen
class WorkerDependencies:
    """The consumer worker: a consumer per start, and the topics it needs made first."""

    new_consumer: Callable[[], OrderConsumer]
    prepare_topics: Callable[[], None]  # raises KafkaUnreachable, KafkaCredentialsRefused
    probes: Probes
    close: Callable[[], None]


@attrs.frozen
class HttpDependencies:
    """The web app, and the consumer it runs when it is also the worker (``serve``)."""

    settings: Settings
    lookup: CacheThenRepository
    customer_orders: CustomerOrders
    cache_admin: CacheAdmin
    dead_letters: Callable[[], DeadLetterArchive]
    tracing: Tracing
    probes: Probes
    worker: WorkerDependencies | None
    close: Callable[[], None]


def _closer(container: Container) -> Callable[[], None]:
    def close() -> None:
        container.shutdown_resources()

    return close


def _probes(container: Container) -> Probes:
    settings: Settings = container.settings()
    return Probes(
        repository=lambda: container.repository().ping(),
        cache=lambda: container.cache().get("readyz-probe"),
        max_stall=settings.ready_max_stall,
    )


def worker_dependencies(
    container: Container, *, serves_metrics: bool = False
) -> WorkerDependencies:
    """``serves_metrics``: the process serves /metrics (``consume`` with an ops port), so it
    reads the group's lag from the brokers too."""
    if serves_metrics:
        container.group_lag()
    return WorkerDependencies(
        new_consumer=container.consumer,
        prepare_topics=container.topics,
        probes=_probes(container),
        close=_closer(container),
    )


def http_dependencies(container: Container, *, run_consumer: bool = False) -> HttpDependencies:
    """Made where the app starts (its lifespan, as ``create_app`` does given a function): it
    starts reading the group's lag for /metrics, and ``close`` stops that."""
    container.group_lag()
    return HttpDependencies(
        settings=container.settings(),
        lookup=container.lookup(),
        customer_orders=container.customer_orders(),
        cache_admin=container.cache_admin(),
        dead_letters=container.dead_letter_archive,
        tracing=container.tracing(),
        probes=_probes(container),
        worker=worker_dependencies(container) if run_consumer else None,
        close=_closer(container),
    )


@contextmanager
def cache_tools(settings: Settings) -> Iterator[CacheAdmin]:
    """The cache administration of ``cache reset|warm``, closed after the command."""
    container = build_container(settings)
    try:
        yield container.cache_admin()
    finally:
        container.shutdown_resources()


@contextmanager
def order_publisher(settings: Settings) -> Iterator[KafkaPublisher]:
    """The producer of ``publish``, closed (flushed) after the command."""
    publisher = KafkaPublisher(settings.kafka_bootstrap, settings.kafka_client_config())
    try:
        yield publisher
    finally:
        publisher.close()


@attrs.frozen
class DeadLetterTools:
    """What ``dlq list|show|replay`` use: the archive, and a replay to the orders topic."""

    archive: DeadLetterArchive
    replay: Callable[[Sequence[DeadLetter]], None]  # raises CannotReplay, Publish*


@contextmanager
def dead_letter_tools(settings: Settings) -> Iterator[DeadLetterTools]:
    container = build_container(settings)

    def replay(letters: Sequence[DeadLetter]) -> None:
        records: list[Record] = [replay_record(letter) for letter in letters]
        container.publisher().publish(settings.kafka_topic, records)

    try:
        with container.dead_letter_archive() as archive:
            yield DeadLetterTools(archive, replay)
    finally:
        container.shutdown_resources()
