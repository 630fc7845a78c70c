"""The operator's commands: publish test orders, reset or warm the cache."""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson

from adapters.kafka.client.publisher import PublishFailed, PublishRefused
from adapters.kafka.client.records import Record
from entrypoints.cli.errors import PublishError, Unreachable, kafka_ready
from entrypoints.container import cache_tools, order_publisher
from entrypoints.settings import Settings
from order_core import CacheUnavailable, RepositoryFailed, RepositoryUnavailable
from order_tools.fake_orders import messages


def run_publish(settings: Settings, args: argparse.Namespace) -> int:
    kafka_ready(settings)
    if args.file:
        records = _file_records(Path(args.file))
    else:
        records = [Record(k, v) for k, v, _ in messages(args.count, args.seed, args.invalid_ratio)]
    started = time.monotonic()
    sent = 0
    chunk = max(1, int(args.rate)) if args.rate else 1000
    try:
        with order_publisher(settings) as publisher:
            for start in range(0, len(records), chunk):
                sent += publisher.publish(settings.kafka_topic, records[start : start + chunk])
                if not args.quiet and len(records) > chunk:
                    _progress(sent, len(records), started)
                if args.rate:
                    time.sleep(max(0.0, started + sent / args.rate - time.monotonic()))
    except (PublishFailed, PublishRefused) as exc:
        raise PublishError(f"publishing failed after {sent} messages: {exc}") from None
    if not args.quiet and len(records) > chunk:
        print(file=sys.stderr)
    elapsed = time.monotonic() - started
    print(f"published {sent} messages to {settings.kafka_topic} in {elapsed:.1f}s")
    return 0


def _file_records(path: Path) -> list[Record]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PublishError(f"cannot read {path}: {exc}") from None
    documents = data if isinstance(data, list) else [data]
    return [
        Record(
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


def run_cache_reset(settings: Settings, args: argparse.Namespace) -> int:
    if settings.cache_backend == "memory":
        return _over_http(settings, "reset", None)
    try:
        with cache_tools(settings) as admin:
            admin.reset()
    except CacheUnavailable as exc:
        raise Unreachable(str(exc)) from None
    print(f"cache ({settings.cache_backend}) reset")
    return 0


def run_cache_warm(settings: Settings, args: argparse.Namespace) -> int:
    if settings.cache_backend == "memory":
        return _over_http(settings, "warm", args.limit)
    limit = args.limit if args.limit is not None else settings.warm_up_orders
    try:
        with cache_tools(settings) as admin:
            loaded = admin.warm_up(limit)
    except (CacheUnavailable, RepositoryUnavailable, RepositoryFailed) as exc:
        raise Unreachable(str(exc)) from None
    print(f"cache ({settings.cache_backend}) warmed with {loaded} orders")
    return 0


def _over_http(settings: Settings, action: str, limit: int | None) -> int:
    """The memory cache lives inside the running service: ask it through its admin API."""
    if not settings.admin_token:
        raise Unreachable(
            "the memory cache lives in the running service; set ORDER_SERVICE_ADMIN_TOKEN "
            "(the same as the service's) to reset or warm it through its admin endpoints"
        )
    host = settings.http_host
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - not a bind
    url = f"http://{host}:{settings.http_port}/admin/cache/{action}"
    if limit is not None:
        url += f"?limit={limit}"
    request = urllib.request.Request(  # noqa: S310 - our own service's URL
        url, method="POST", headers={"Authorization": f"Bearer {settings.admin_token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310
            print(f"cache (memory, {url}): {answer.read().decode()}")
    except urllib.error.HTTPError as exc:
        raise Unreachable(f"{url} answered {exc.code}: {exc.read().decode()}") from None
    except OSError as exc:
        raise Unreachable(f"cannot reach the service at {url}: {exc}") from None
    return 0
