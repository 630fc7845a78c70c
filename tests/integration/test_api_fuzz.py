"""Schema-driven fuzzing of the real ``order-service http`` process with schemathesis.

Every operation of the served OpenAPI document is called with generated requests, valid
and invalid (and each admin operation once more without its token): no answer may be a
5xx, and every answer must have a documented status, a documented content type and a
body that matches its documented schema. The store holds a few orders and the
dead-letter topic a few dead letters (a stub and a replay among them), so lists and
lookups answer with data too, not only with empty results and 404s.

Bounded: 100 examples per operation and a fixed seed take about 15 s here; set
ORDER_SERVICE_FUZZ_EXAMPLES to fuzz longer (300 take about a minute).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx
import pytest

from adapters.kafka.client.publisher import KafkaPublisher
from adapters.kafka.dead_letters.format import REPLAY_OF, Source
from adapters.kafka.dead_letters.publisher import DeadLetterPublisher
from adapters.postgres.repository import PostgresOrderRepository
from order_core import EncodedOrder, encode_order
from tests.contracts.repository import BASE
from tests.support import KAFKA, free_port, service_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
TOKEN = "fuzz-t0ken"
# Every answer: no 5xx, a documented status, content type, headers and body; invalid
# input refused with a 4xx and valid input not; an admin operation refused without its
# token (ignored_auth sends each one again without the Authorization header).
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance,negative_data_rejection,"
    "positive_data_acceptance,ignored_auth"
)


def _store_orders(repository: PostgresOrderRepository) -> None:
    """The documented example order and its customer's others (more than one page of the
    smallest size), and an order of a customer whose id needs escaping."""
    orders = [BASE, *(attrs.evolve(BASE, order_uid=f"fuzz-{i}") for i in range(3))]
    orders.append(attrs.evolve(BASE, order_uid="fuzz-odd", customer_id='"<odd>" ü'))
    repository.save_many([EncodedOrder(o, encode_order(o)) for o in orders])


def _store_dead_letters(topic: str) -> None:
    publisher = KafkaPublisher(KAFKA)
    letters = DeadLetterPublisher(publisher, f"{topic}.dlq", max_bytes=2000)
    source = Source(topic, 1, 7, 1_700_000_000_000, b"k", b'{"order_uid": 1}')
    letters.send(
        [
            (source, "order_uid: Expected `str`, got 1"),
            (attrs.evolve(source, timestamp_ms=None, key=None, value=b"\xff" * 3000), "too big"),
            (attrs.evolve(source, headers=((REPLAY_OF, b"0"),)), "<b>failed again</b>"),
        ]
    )
    publisher.close()


def _wait_healthy(base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text()
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"order-service http not healthy after 60 s:\n{log_path.read_text()}")


@pytest.fixture
def served(
    repository: PostgresOrderRepository, clean_database: str, topic: str, tmp_path: Path
) -> Iterator[str]:
    """``order-service http`` on a free port, on this test's database and topics."""
    _store_orders(repository)
    _store_dead_letters(topic)
    port = free_port()
    env = service_env(clean_database, topic, http_port=port, admin_token=TOKEN)
    env["ORDER_SERVICE_LOG_LEVEL"] = "WARNING"
    log_path = tmp_path / "http.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", "http"], env=env, stdout=log, stderr=log
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, process, log_path)
        yield base
    finally:
        process.terminate()
        process.wait(30)
        assert "Traceback" not in log_path.read_text(), log_path.read_text()


def test_the_api_keeps_to_its_document(served: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "run", f"{served}/openapi.json",
            "--checks", CHECKS,
            "--header", f"Authorization: Bearer {TOKEN}",
            "--phases", "examples,coverage,fuzzing,stateful",
            "--max-examples", os.environ.get("ORDER_SERVICE_FUZZ_EXAMPLES", "100"),
            "--seed", "20261125",  # the same cases every run: a failure is reproducible
            "--workers", "2",
            "--generation-database", "none",
            "--request-timeout", "10",
            "--report", "junit", "--report-dir", str(tmp_path),
            "--no-color",
        ],
        capture_output=True, text=True, timeout=150, check=False,
    )  # fmt: skip
    print(run.stdout)  # the run's summary, shown with -rP or -s
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
