"""What each CLI command does, on a container built from the settings."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import psycopg
import uvicorn

from adapters.kafka.publisher import KafkaPublisher, PublishFailed
from adapters.postgres.migrations import migrate
from entrypoints.background import prepare_topics
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.logs import configure_logging
from entrypoints.order_generator import messages
from entrypoints.settings import ENV_PREFIX
from order_core import CacheUnavailable, RepositoryUnavailable

log = logging.getLogger("order-service")


class StartupError(RuntimeError):
    """A server the command needs cannot be reached; said in one line."""


def run(
    args: argparse.Namespace, settings: dict[str, Any], overrides: dict[str, str | None]
) -> int:
    configure_logging(settings["log_format"], settings["log_level"])
    command = args.command
    if command == "migrate":
        _migrate(settings)
        return 0
    if command in ("serve", "http"):
        if command == "serve":
            _migrate(settings)
        return _serve(settings, overrides, run_consumer=command == "serve")
    if command == "consume":
        _migrate(settings)
        return _consume(settings)
    if command == "publish":
        return _publish(args, settings)
    if command == "cache":
        return _cache(args, settings)
    raise AssertionError(command)


def _migrate(settings: dict[str, Any]) -> None:
    if settings["repository"] != "postgres":
        return
    try:
        applied = migrate(settings["database_url"])
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StartupError(f"cannot reach PostgreSQL: {first_line}") from None
    log.info("migrations: %s", ", ".join(applied) if applied else "up to date")


def _serve(
    settings: dict[str, Any], overrides: dict[str, str | None], *, run_consumer: bool
) -> int:
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: let that re-raise end the
    # process with status 0, as a finished shutdown should.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    workers = settings["http_workers"]
    common: dict[str, Any] = {
        "host": settings["http_host"],
        "port": settings["http_port"],
        "access_log": False,
        "log_config": None,
        "timeout_graceful_shutdown": 10,
    }
    if workers == 1:
        app = create_app(build_container(settings), run_consumer=run_consumer)
        uvicorn.run(app, **common)
        return 0
    # Several worker processes import the app by name and read settings from the environment.
    for name, value in overrides.items():
        if value is not None:
            os.environ[ENV_PREFIX + name.upper()] = value
    os.environ["ORDER_SERVICE_RUN_CONSUMER"] = "1" if run_consumer else "0"
    uvicorn.run(
        "entrypoints.http.asgi:app_from_environment", factory=True, workers=workers, **common
    )
    return 0


def _consume(settings: dict[str, Any]) -> int:
    container = build_container(settings)
    try:
        prepare_topics(container)
    except Exception as exc:
        raise StartupError(f"cannot reach Kafka at {settings['kafka_bootstrap']}: {exc}") from None
    consumer = container.consumer()

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %s: finishing the batch in hand, then leaving the group", signum)
        consumer.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        consumer.run()
    finally:
        container.shutdown_resources()
    return 0


def _publish(args: argparse.Namespace, settings: dict[str, Any]) -> int:
    container = build_container(settings)
    try:
        prepare_topics(container)
    except Exception as exc:
        raise StartupError(f"cannot reach Kafka at {settings['kafka_bootstrap']}: {exc}") from None
    publisher: KafkaPublisher = container.publisher()
    if args.file:
        pairs = _file_messages(Path(args.file))
    else:
        pairs = [(k, v) for k, v, _ in messages(args.count, args.seed, args.invalid_ratio)]
    started = time.monotonic()
    sent = 0
    chunk = max(1, int(args.rate)) if args.rate else 1000
    try:
        for start in range(0, len(pairs), chunk):
            sent += publisher.publish(settings["kafka_topic"], pairs[start : start + chunk])
            if not args.quiet and len(pairs) > chunk:
                _progress(sent, len(pairs), started)
            if args.rate:
                time.sleep(max(0.0, started + sent / args.rate - time.monotonic()))
    except PublishFailed as exc:
        raise StartupError(f"publishing failed after {sent} messages: {exc}") from None
    finally:
        container.shutdown_resources()
    if not args.quiet and len(pairs) > chunk:
        print(file=sys.stderr)
    elapsed = time.monotonic() - started
    print(f"published {sent} messages to {settings['kafka_topic']} in {elapsed:.1f}s")
    return 0


def _file_messages(path: Path) -> list[tuple[bytes | None, bytes]]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise StartupError(f"cannot read {path}: {exc}") from None
    documents = data if isinstance(data, list) else [data]
    return [
        (
            str(doc.get("order_uid", "")).encode() or None if isinstance(doc, dict) else None,
            orjson.dumps(doc),
        )
        for doc in documents
    ]


def _progress(done: int, total: int, started: float) -> None:
    width = 30
    filled = width * done // total
    rate = done / max(time.monotonic() - started, 1e-9)
    bar = "#" * filled + "-" * (width - filled)
    print(f"\r[{bar}] {done}/{total} {rate:,.0f}/s", end="", file=sys.stderr, flush=True)


def _cache(args: argparse.Namespace, settings: dict[str, Any]) -> int:
    if settings["cache_backend"] == "memory":
        return _cache_over_http(args, settings)
    container = build_container(settings)
    admin = container.cache_admin()
    try:
        if args.cache_command == "reset":
            admin.reset()
            print(f"cache ({settings['cache_backend']}) reset")
        else:
            limit = args.limit if args.limit is not None else settings["warm_up_orders"]
            loaded = admin.warm_up(limit)
            print(f"cache ({settings['cache_backend']}) warmed with {loaded} orders")
    except (CacheUnavailable, RepositoryUnavailable) as exc:
        raise StartupError(str(exc)) from None
    finally:
        container.shutdown_resources()
    return 0


def _cache_over_http(args: argparse.Namespace, settings: dict[str, Any]) -> int:
    """The memory cache lives inside the running service: ask it through its admin API."""
    if not settings["admin_token"]:
        raise StartupError(
            "the memory cache lives in the running service; set ORDER_SERVICE_ADMIN_TOKEN "
            "(the same as the service's) to reset or warm it through its admin endpoints"
        )
    host = settings["http_host"]
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - not a bind
    url = f"http://{host}:{settings['http_port']}/admin/cache/{args.cache_command}"
    if args.cache_command == "warm" and args.limit is not None:
        url += f"?limit={args.limit}"
    request = urllib.request.Request(  # noqa: S310 - our own service's URL
        url, method="POST", headers={"Authorization": f"Bearer {settings['admin_token']}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310
            print(f"cache (memory, {url}): {answer.read().decode()}")
    except urllib.error.HTTPError as exc:
        raise StartupError(f"{url} answered {exc.code}: {exc.read().decode()}") from None
    except OSError as exc:
        raise StartupError(f"cannot reach the service at {url}: {exc}") from None
    return 0
