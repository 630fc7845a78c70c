"""Kafka with authentication: the local broker's SASL_PLAINTEXT listener (SCRAM-SHA-256,
user ``orders``), started by scripts/services.sh. Everything the service does with Kafka
works through it; wrong credentials are one clear line and exit code 1, in seconds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.kafka.client.topics import ensure_topics
from adapters.kafka.dead_letters import format as dlq_format
from entrypoints.container import build_container
from tests.conftest import SAMPLE_ID, SAMPLE_PATH
from tests.integration.kafka_helpers import read_all, running, wait_for
from tests.support import KAFKA, service_settings

pytestmark = pytest.mark.integration

SASL_BOOTSTRAP = os.environ.get("ORDER_SERVICE_TEST_KAFKA_SASL", "127.0.0.1:9094")
CLI = [sys.executable, "-m", "entrypoints.cli"]


def sasl_env(topic: str, database_url: str, password: str = "orders-secret") -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("ORDER_SERVICE_")},
        "ORDER_SERVICE_KAFKA_BOOTSTRAP": SASL_BOOTSTRAP,
        "ORDER_SERVICE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "ORDER_SERVICE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "ORDER_SERVICE_KAFKA_SASL_USERNAME": "orders",
        "ORDER_SERVICE_KAFKA_SASL_PASSWORD": password,
        "ORDER_SERVICE_KAFKA_TOPIC": topic,
        "ORDER_SERVICE_KAFKA_DLQ_TOPIC": f"{topic}.dlq",
        "ORDER_SERVICE_KAFKA_GROUP": f"group-{topic}",
        "ORDER_SERVICE_DATABASE_URL": database_url,
        "ORDER_SERVICE_OPS_PORT": "0",
    }


def test_consume_save_and_dead_letter_through_sasl(
    clean_database: str, topic: str, tmp_path: Path
) -> None:
    env = sasl_env(topic, clean_database)
    broken = tmp_path / "broken.json"
    broken.write_text('{"order_uid": "broken"}')
    for path in (SAMPLE_PATH, broken):
        published = subprocess.run(
            [*CLI, "publish", "--file", str(path)],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert published.returncode == 0, published.stderr
    password_file = tmp_path / "password"
    password_file.write_text("orders-secret\n")
    settings = service_settings(
        clean_database,
        topic,
        kafka_bootstrap=SASL_BOOTSTRAP,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="orders",
        kafka_sasl_password_file=str(password_file),
    )
    container = build_container(settings)
    repository = container.repository()
    with running(container.consumer()):
        wait_for(lambda: repository.get_document(SAMPLE_ID) is not None, 60, "the sample saved")
    dead = read_all(f"{topic}.dlq", expected=1)  # read back over the plain listener
    assert len(dead) == 1
    assert b"is required" in dict(dead[0].headers())[dlq_format.REASON]  # type: ignore[attr-defined]
    container.shutdown_resources()


@pytest.mark.parametrize("command", ["consume", "publish"])
def test_wrong_credentials_are_one_line_and_exit_1_within_seconds(
    clean_database: str, command: str
) -> None:
    ensure_topics(KAFKA, {"sasl-wrong": 1, "sasl-wrong.dlq": 1})
    env = sasl_env("sasl-wrong", clean_database, password="not-the-password")
    args = [*CLI, command] + (["--count", "3"] if command == "publish" else [])
    started = time.monotonic()
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=False)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert elapsed < 15, f"took {elapsed:.1f}s"
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("order-service: Kafka refused the credentials"), result.stderr
    assert "not-the-password" not in result.stderr + result.stdout  # never logged
