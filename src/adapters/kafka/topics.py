"""Creates the topics the service uses, with several partitions so instances can share them."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

log = logging.getLogger(__name__)


def ensure_topics(
    bootstrap_servers: str,
    topics: dict[str, int],
    *,
    client_config: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> None:
    """Create each topic (name -> partitions) that does not exist yet; existing ones are kept."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers, **(client_config or {})})
    existing = admin.list_topics(timeout=timeout).topics
    wanted = [
        NewTopic(name, num_partitions=partitions, replication_factor=1)
        for name, partitions in topics.items()
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
