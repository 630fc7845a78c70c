"""Reaching the cluster and creating the topics the service uses.

Before anything else, a probe connects with the service's own client settings: refused
credentials fail at once with the broker's reason (librdkafka reports them only through
its error callback, and a plain metadata request would just time out), an unreachable
cluster fails within the timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import attrs
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from adapters.kafka.client.records import CREDENTIALS_REFUSED

log = logging.getLogger(__name__)
# librdkafka's own log lines, through Python logging (one line each, our format).
LIBRDKAFKA_LOG = logging.getLogger("librdkafka")
# The probe says why it failed itself; its client's retries would only repeat it.
_QUIET = logging.getLogger("librdkafka.probe")
_QUIET.setLevel(logging.CRITICAL + 1)


class KafkaUnreachable(RuntimeError):
    """No broker answered within the timeout."""


class KafkaCredentialsRefused(RuntimeError):
    """The brokers refused our credentials: retrying cannot help."""


def probe(bootstrap_servers: str, client_config: Mapping[str, str], timeout: float) -> None:
    """Return once a broker answers with our credentials; raise KafkaCredentialsRefused or
    KafkaUnreachable otherwise."""
    refused: list[str] = []

    def on_error(error: KafkaError) -> None:
        if error.code() in CREDENTIALS_REFUSED:
            refused.append(error.str())

    client = Producer(
        {
            "bootstrap.servers": bootstrap_servers,
            **client_config,
            "error_cb": on_error,
            "logger": _QUIET,
        }
    )
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        client.poll(0.1)  # serves error_cb
        if refused:
            raise KafkaCredentialsRefused(refused[0])
        try:
            client.list_topics(timeout=min(1.0, max(0.1, deadline - time.monotonic())))
            return
        except KafkaException as exc:
            last = exc
    client.poll(0.1)
    if refused:
        raise KafkaCredentialsRefused(refused[0])
    raise KafkaUnreachable(f"no broker answered at {bootstrap_servers} in {timeout:.0f}s: {last}")


@attrs.frozen
class TopicSpec:
    """How to create a topic: partitions, replication (-1: the broker's default, as
    ``default.replication.factor`` says) and topic configs (``retention.ms``, …)."""

    partitions: int
    replication_factor: int = -1
    config: Mapping[str, str] = attrs.field(factory=dict)


def ensure_topics(
    bootstrap_servers: str,
    topics: Mapping[str, int | TopicSpec],
    *,
    client_config: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> None:
    """Create each topic (name -> partitions, or its spec) that does not exist yet; existing
    ones are kept as they are.

    Raises KafkaCredentialsRefused, KafkaUnreachable, or KafkaException.
    """
    config = dict(client_config or {})
    probe(bootstrap_servers, config, timeout)
    admin_config: dict[str, Any] = {"bootstrap.servers": bootstrap_servers, **config}
    admin_config["logger"] = LIBRDKAFKA_LOG
    admin = AdminClient(admin_config)
    existing = admin.list_topics(timeout=timeout).topics
    specs = {n: TopicSpec(t) if isinstance(t, int) else t for n, t in topics.items()}
    wanted = [
        NewTopic(
            name,
            num_partitions=spec.partitions,
            replication_factor=spec.replication_factor,
            config=dict(spec.config),
        )
        for name, spec in specs.items()
        if name not in existing
    ]
    if not wanted:
        return
    for name, future in admin.create_topics(wanted, request_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
            log.info("created topic %s", name)
        except KafkaException as exc:
            # Another instance may have created it in the meantime.
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
