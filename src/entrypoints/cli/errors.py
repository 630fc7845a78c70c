"""Why a command failed, each said in one line; every one exits with status 1."""

from __future__ import annotations

from confluent_kafka import KafkaException

from adapters.kafka.client.topics import KafkaCredentialsRefused, KafkaUnreachable
from entrypoints.container import prepare_topics
from entrypoints.settings import Settings


class CommandError(RuntimeError):
    """A command could not do its work; the message says why, in one line."""


class Unreachable(CommandError):
    """A server the command needs cannot be reached (or refuses us)."""


class PublishError(CommandError):
    """Messages could not be published."""


class MigrationsPending(CommandError):
    """The database lacks migrations this version needs."""


class ConsumerStopped(CommandError):
    """The consumer stopped on an error that no retry can mend."""


def kafka_ready(settings: Settings) -> None:
    """The topics made if missing, for a command: any failure is one line and exit code 1."""
    try:
        prepare_topics(settings)
    except KafkaCredentialsRefused as exc:
        raise Unreachable(f"Kafka refused the credentials: {exc}") from None
    except (KafkaUnreachable, KafkaException) as exc:
        raise Unreachable(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}") from None
