"""Fixtures for the browser tests: the real service, its orders, and headless Chromium.

The service runs as ``order-service serve`` in a subprocess on a free port, with its own
Kafka topic and consumer group, the real PostgreSQL and the memcached cache backend; start
the servers first with ``scripts/services.sh up``. Chromium is Debian's ``/usr/bin/chromium``
(``scripts/services.sh install chromium``), driven by the ``playwright`` package; no browser
is downloaded. Screenshots go to ``test-artifacts/browser/`` at the repository root, with the
service's log beside them.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka.admin import AdminClient

from tests.support import ADMIN_URL, KAFKA, MEMCACHED, free_port, order_service_command

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="needs the playwright package (pip install playwright)"
)

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("ORDER_SERVICE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DATABASE_URL = ADMIN_URL
KAFKA_BOOTSTRAP = KAFKA
MEMCACHED_SERVERS = MEMCACHED
START_COMMAND = "scripts/services.sh up"
STARTUP_TIMEOUT = 30.0
ARRIVAL_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

HOSTILE_NAME = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'
HOSTILE_ITEM_NAME = "<b>bold</b>"
ADMIN_TOKEN = "browser-admin-t0ken"


@dataclass(frozen=True)
class Service:
    base_url: str
    sample_id: str
    hostile_id: str
    sample: dict[str, Any]
    hostile: dict[str, Any]
    topic: str  # the orders topic the service consumes (its dead letters: topic + ".dlq")


def _require_port(what: str, host_port: str) -> None:
    host, _, port = host_port.rpartition(":")
    try:
        socket.create_connection((host or "localhost", int(port)), timeout=2).close()
    except OSError as exc:
        pytest.fail(f"{what} is not reachable at {host_port} ({exc}); run {START_COMMAND}")


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _hostile_order(sample: dict[str, Any]) -> dict[str, Any]:
    order = copy.deepcopy(sample)
    order["order_uid"] = f"hostile-{uuid.uuid4().hex[:16]}"
    order["delivery"]["name"] = HOSTILE_NAME
    order["delivery"]["city"] = "<script>alert(1)</script>"
    order["customer_id"] = "<i>customer</i>"
    order["items"][0]["name"] = HOSTILE_ITEM_NAME
    order["items"][0]["brand"] = "</td></tr><tr><td>injected"
    order["payment"]["goods_total"] = 400  # the items add up to 317: the page must say so
    return order


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def service(sample_bytes: bytes, artifacts_dir: Path, tmp_path_factory: Any) -> Iterator[Service]:
    """``order-service serve`` on a free port, holding the sample and a hostile order."""
    database = DATABASE_URL.split("@")[-1].split("/")[0]
    _require_port("PostgreSQL", database if ":" in database else f"{database}:5432")
    _require_port("Kafka", KAFKA_BOOTSTRAP.split(",")[0])
    _require_port("Memcached", MEMCACHED_SERVERS.split(",")[0])

    command = order_service_command()
    run_id = uuid.uuid4().hex[:12]
    port = free_port()
    settings = [
        "--http-host", "127.0.0.1",
        "--http-port", str(port),
        "--kafka-bootstrap", KAFKA_BOOTSTRAP,
        "--kafka-topic", f"browser-test-{run_id}",
        "--kafka-dlq-topic", f"browser-test-{run_id}.dlq",
        "--kafka-group", f"browser-test-{run_id}",
        "--kafka-partitions", "1",
        "--database-url", DATABASE_URL,
        "--cache-backend", "memcached",
        "--memcached-servers", MEMCACHED_SERVERS,
        "--warm-up-orders", "0",
        "--admin-token", ADMIN_TOKEN,
    ]  # fmt: skip
    log_path = artifacts_dir / "service.log"
    base_url = f"http://127.0.0.1:{port}"

    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [command, "serve", *settings],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client(base_url=base_url, timeout=5) as http:
            _wait_healthy(http, process, log_path)

            sample = json.loads(sample_bytes)
            hostile = _hostile_order(sample)
            orders_file = tmp_path_factory.mktemp("orders") / "orders.json"
            orders_file.write_text(json.dumps([sample, hostile]))
            published = subprocess.run(
                [command, "publish", "--file", str(orders_file), "--quiet", *settings],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if published.returncode != 0:
                pytest.fail(
                    f"order-service publish failed ({published.returncode}):\n"
                    f"{published.stdout}\n{published.stderr}"
                )
            for order_id in (sample["order_uid"], hostile["order_uid"]):
                _wait_for_order(http, process, log_path, order_id)

        yield Service(
            base_url=base_url,
            sample_id=sample["order_uid"],
            hostile_id=hostile["order_uid"],
            sample=sample,
            hostile=hostile,
            topic=f"browser-test-{run_id}",
        )
    finally:
        process.terminate()
        try:
            code = process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
            pytest.fail(f"order-service serve did not stop within {STOP_TIMEOUT}s of SIGTERM")
        _delete_topics(f"browser-test-{run_id}", f"browser-test-{run_id}.dlq")
        # 0, or -SIGTERM when the process does not handle the signal itself.
        assert code in (0, -15), f"order-service serve exited with {code}:\n{_log_tail(log_path)}"


def _delete_topics(*names: str) -> None:
    """Best effort: drop this run's topics so they do not pile up in the local Kafka."""
    admin = AdminClient({"bootstrap.servers": KAFKA_BOOTSTRAP})
    try:
        existing = admin.list_topics(timeout=5).topics
        doomed = [name for name in names if name in existing]
        if doomed:
            for future in admin.delete_topics(doomed, operation_timeout=5).values():
                future.result(timeout=10)
    except Exception as exc:  # cleanup only: never fail a test for it
        warnings.warn(f"could not delete the test topics {names}: {exc}", stacklevel=1)


def _wait_healthy(http: httpx.Client, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"order-service serve exited with {process.returncode}:\n{_log_tail(log)}")
        try:
            if http.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"order-service serve not healthy after {STARTUP_TIMEOUT}s:\n{_log_tail(log)}")


def _wait_for_order(
    http: httpx.Client, process: subprocess.Popen[bytes], log: Path, order_id: str
) -> None:
    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    status: int | str | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"order-service serve exited with {process.returncode}:\n{_log_tail(log)}")
        try:
            status = http.get("/order", params={"id": order_id}).status_code
        except httpx.TransportError as exc:
            status = repr(exc)
        if status == 200:
            return
        time.sleep(0.25)
    pytest.fail(
        f"order {order_id} not served after {ARRIVAL_TIMEOUT}s (last: {status}):\n{_log_tail(log)}"
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}; run scripts/services.sh install chromium")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(
    browser: Any, service: Service, artifacts_dir: Path, request: Any
) -> Iterator[Callable[..., Any]]:
    """Opens pages on the service (1280x900 unless told); each gets a full-page screenshot,
    ``<test name>.png`` (then ``<test name>-2.png``...), when the test ends."""
    opened: list[tuple[Any, Any, list[str]]] = []

    def open_(**context_options: Any) -> Any:
        options = {
            "viewport": {"width": 1280, "height": 900},
            "locale": "en-GB",
            "timezone_id": "Europe/Berlin",
            **context_options,
        }
        context = browser.new_context(base_url=service.base_url, **options)
        context.set_default_timeout(10_000)
        new_page = context.new_page()
        errors: list[str] = []
        new_page.on("pageerror", lambda exc: errors.append(str(exc)))
        opened.append((context, new_page, errors))
        return new_page

    yield open_
    all_errors: list[str] = []
    for index, (context, shown, errors) in enumerate(opened):
        suffix = "" if index == 0 else f"-{index + 1}"
        try:
            shown.screenshot(
                path=str(artifacts_dir / f"{request.node.name}{suffix}.png"), full_page=True
            )
        finally:
            context.close()
        all_errors.extend(errors)
    assert not all_errors, f"JavaScript errors on the page: {all_errors}"


@pytest.fixture
def page(open_page: Callable[..., Any]) -> Any:
    """A fresh 1280x900 page on the service."""
    return open_page()
