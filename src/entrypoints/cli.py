"""The ``order-service`` command: serve, consume, publish, migrate, cache."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from entrypoints import commands
from entrypoints.settings import SETTINGS, ConfigError, load

log = logging.getLogger("order-service")


def _settings_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("settings (each also read from its environment variable)")
    for setting in SETTINGS:
        group.add_argument(
            setting.flag,
            dest=f"setting_{setting.name}",
            metavar=setting.name.upper(),
            help=f"{setting.help} [env {setting.env}, default {setting.default!r}]",
        )
    return parser


def build_parser() -> argparse.ArgumentParser:
    common = _settings_parser()
    parser = argparse.ArgumentParser(
        prog="order-service",
        description="Order processing: Kafka in, PostgreSQL as the source of truth, a cache in "
        "front, HTTP lookups at GET /order?id=ORDER_UID.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser(
        "serve", parents=[common], help="migrate, then serve HTTP and consume Kafka in one process"
    )
    sub.add_parser("http", parents=[common], help="serve HTTP only (no consumer)")
    sub.add_parser("consume", parents=[common], help="migrate, then consume Kafka only")
    sub.add_parser("migrate", parents=[common], help="apply the database migrations")

    publish = sub.add_parser("publish", parents=[common], help="publish orders to Kafka")
    source = publish.add_mutually_exclusive_group(required=True)
    source.add_argument("--count", type=int, help="publish N realistic random orders")
    source.add_argument("--file", help="publish the order(s) in a JSON file (object or array)")
    publish.add_argument(
        "--rate", type=float, default=0.0, help="messages per second (0: as fast as possible)"
    )
    publish.add_argument(
        "--invalid-ratio",
        type=float,
        default=0.0,
        help="share of deliberately broken messages, 0 to 1",
    )
    publish.add_argument("--seed", type=int, default=None, help="random seed, for repeatable data")
    publish.add_argument("--quiet", action="store_true", help="no progress bar")

    cache = sub.add_parser("cache", help="reset or warm the cache")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    cache_sub.add_parser(
        "reset", parents=[common], help="drop every cached order (no data is lost)"
    )
    warm = cache_sub.add_parser("warm", parents=[common], help="load the most recent orders")
    warm.add_argument(
        "--limit",
        type=int,
        default=None,
        help="how many orders (default: the warm_up_orders setting)",
    )
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, str | None]:
    return {s.name: getattr(args, f"setting_{s.name}", None) for s in SETTINGS}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = _overrides(args)
    try:
        settings: dict[str, Any] = load(os.environ, overrides)
    except ConfigError as exc:
        print(f"order-service: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        return commands.run(args, settings, overrides)
    except commands.StartupError as exc:
        print(f"order-service: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
