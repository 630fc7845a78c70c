"""The command line, run as a user would: serve, publish --file, then GET /order."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import psycopg
import pytest

from adapters.postgres.migrations import available_migrations
from order_tools.fake_orders import messages
from tests.conftest import SAMPLE_ID, SAMPLE_PATH
from tests.support import ADMIN_URL, free_port, service_env

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "entrypoints.cli"]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def cli_env(clean_database: str, topic: str) -> dict[str, str]:
    return service_env(clean_database, topic, http_port=free_port())


@pytest.fixture
def served(cli_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([*CLI, "serve"], env=cli_env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{cli_env['ORDER_SERVICE_HTTP_PORT']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if get(base + "/healthz")[0] == 200:
                break
        except OSError:
            pass
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        time.sleep(0.2)
    try:
        yield base
    finally:
        process.terminate()
        assert process.wait(30) == 0
        output = (tmp_path / "serve.log").read_text()
        assert "consumer closed" in output
        assert "Application shutdown complete" in output
        assert cli_env["ORDER_SERVICE_DATABASE_URL"] not in output  # no secrets in logs
        assert "password" not in output


def test_serve_then_publish_the_sample_file_then_get_it(
    served: str, cli_env: dict[str, str]
) -> None:
    published = subprocess.run(
        [*CLI, "publish", "--file", str(SAMPLE_PATH)],
        env=cli_env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert b"published 1 messages" in published.stdout
    url = served + f"/order?id={SAMPLE_ID}"
    deadline = time.monotonic() + 30
    status, body = get(url)
    while status != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        status, body = get(url)
    assert status == 200
    assert orjson.loads(body) == orjson.loads(SAMPLE_PATH.read_bytes())


def test_publish_count_sends_realistic_orders_that_are_all_saved(
    served: str, cli_env: dict[str, str]
) -> None:
    subprocess.run(
        [*CLI, "publish", "--count", "200", "--seed", "5", "--quiet"],
        env=cli_env,
        timeout=60,
        check=True,
        capture_output=True,
    )
    keys = [key.decode() for key, _, _ in messages(200, seed=5) if key]
    deadline = time.monotonic() + 30
    missing = keys
    while missing and time.monotonic() < deadline:
        missing = [k for k in missing if get(f"{served}/orders/{k}")[0] != 200]
        time.sleep(0.2)
    assert missing == []


def test_a_bad_setting_is_one_clear_line_and_a_non_zero_exit() -> None:
    result = subprocess.run(
        [*CLI, "migrate", "--http-port", "99999"], capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert result.stderr.decode().strip().splitlines() == [
        "order-service: configuration error: --http-port='99999': must be a port number (1-65535)"
    ]


def test_an_unreachable_database_is_one_clear_line() -> None:
    result = subprocess.run(
        [*CLI, "migrate", "--database-url", "postgresql://orders:orders@127.0.0.1:1/orders"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("order-service: cannot reach PostgreSQL")


def test_cache_commands_reach_the_memory_cache_through_the_admin_api(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**cli_env, "ORDER_SERVICE_ADMIN_TOKEN": "t0ken", "ORDER_SERVICE_WARM_UP_ORDERS": "0"}
    subprocess.run(
        [*CLI, "publish", "--file", str(SAMPLE_PATH)],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([*CLI, "serve"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{env['ORDER_SERVICE_HTTP_PORT']}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if get(base + f"/order?id={SAMPLE_ID}")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        reset = subprocess.run(
            [*CLI, "cache", "reset"], env=env, capture_output=True, timeout=60, check=True
        )
        assert b'{"reset":true}' in reset.stdout
        warm = subprocess.run(
            [*CLI, "cache", "warm", "--limit", "5"],
            env=env,
            capture_output=True,
            timeout=60,
            check=True,
        )
        assert b'{"loaded":1}' in warm.stdout
        no_token = {**env, "ORDER_SERVICE_ADMIN_TOKEN": "wrong"}
        refused = subprocess.run(
            [*CLI, "cache", "reset"], env=no_token, capture_output=True, timeout=60, check=False
        )
        assert refused.returncode == 1
        assert b"answered 401" in refused.stderr
    finally:
        process.terminate()
        process.wait(30)


def test_cache_commands_on_a_shared_cache(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "ORDER_SERVICE_CACHE_BACKEND": "redis"}
    warm = subprocess.run(
        [*CLI, "cache", "warm", "--limit", "3"],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert warm.stdout.decode().strip() == "cache (redis) warmed with 0 orders"
    reset = subprocess.run(
        [*CLI, "cache", "reset"], env=env, capture_output=True, timeout=60, check=True
    )
    assert reset.stdout.decode().strip() == "cache (redis) reset"


def test_metrics_count_every_worker_when_there_are_several(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**cli_env, "ORDER_SERVICE_HTTP_WORKERS": "2", "ORDER_SERVICE_REPOSITORY": "memory"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (tmp_path / "http.log").open("wb")
    process = subprocess.Popen([*CLI, "http"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{env['ORDER_SERVICE_HTTP_PORT']}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "http.log").read_text()
            time.sleep(0.2)
        for i in range(40):  # spread over both workers by the kernel
            assert get(f"{base}/order?id=unknown{i}")[0] == 404
        counts = set()
        for _ in range(6):  # whichever worker answers, the same total
            text = get(base + "/metrics")[1].decode()
            counts.add(
                sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in text.splitlines()
                    if line.startswith("order_service_http_request_seconds_count")
                    and 'route="/order"' in line
                )
            )
        assert counts == {40.0}
    finally:
        process.terminate()
        process.wait(30)


def test_migrate_status_and_check_say_what_is_pending_and_apply_nothing() -> None:
    """A rollout gate: --check exits 1 while a migration is pending, and neither it nor
    --status applies anything; after migrate both say every one is applied."""
    name = f"status_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    url = psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name)
    names = [migration for _, migration, _ in available_migrations()]

    def run(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, "migrate", *flags, "--database-url", url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    try:
        fresh = run("--check")
        assert fresh.returncode == 1
        assert f"{len(names)} migration(s) pending" in fresh.stderr
        listed = run("--status")
        assert listed.returncode == 1
        assert [line.split()[:2] for line in listed.stdout.splitlines()] == [
            [migration, "pending"] for migration in names
        ]
        assert run("--check").returncode == 1  # still: nothing was applied
        assert run().returncode == 0
        applied = run("--status")
        assert applied.returncode == 0
        assert [line.split()[:2] for line in applied.stdout.splitlines()] == [
            [migration, "applied"] for migration in names
        ]
        assert run("--check").returncode == 0
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
