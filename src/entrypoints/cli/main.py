"""The ``order-service`` command: each subcommand is one function, chosen by argparse."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from entrypoints.cli import dead_letters as dlq_commands
from entrypoints.cli import service as run_commands
from entrypoints.cli import tools as tool_commands
from entrypoints.cli.errors import CommandError
from entrypoints.logs import configure_logging
from entrypoints.settings import ConfigError, Settings, load, table

Handler = Callable[[Settings, argparse.Namespace, dict[str, str | None]], int]


def _settings_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("settings (each also read from its environment variable)")
    for info in table():
        shown = "(hidden)" if info.secret and info.default else repr(info.default)
        group.add_argument(
            info.flag,
            dest=f"setting_{info.name}",
            metavar=info.name.upper(),
            help=f"{info.help} [env {info.env}, default {shown}]",
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

    def command(
        name: str,
        handler: Handler,
        help: str,
        parent: argparse._SubParsersAction[argparse.ArgumentParser] = sub,
    ) -> argparse.ArgumentParser:
        p = parent.add_parser(name, parents=[common], help=help)
        p.set_defaults(handler=handler)
        return p

    command(
        "serve",
        lambda s, a, o: run_commands.run_serve(s, o),
        "migrate, then serve HTTP and consume Kafka in one process",
    )
    command("http", lambda s, a, o: run_commands.run_http(s, o), "serve HTTP only (no consumer)")
    command(
        "consume",
        lambda s, a, o: run_commands.run_consume(s),
        "migrate, then consume Kafka only (ops endpoints on --ops-port)",
    )
    migrations = command(
        "migrate",
        lambda s, a, o: run_commands.run_migrate(s, status=a.status, check=a.check),
        "apply the database migrations",
    )
    asked = migrations.add_mutually_exclusive_group()
    asked.add_argument(
        "--status", action="store_true", help="list them, applied or pending; apply nothing"
    )
    asked.add_argument(
        "--check", action="store_true", help="apply nothing; exit 1 while any is pending"
    )

    publish = command(
        "publish", lambda s, a, o: tool_commands.run_publish(s, a), "publish orders to Kafka"
    )
    source = publish.add_mutually_exclusive_group(required=True)
    source.add_argument("--count", type=int, help="publish N realistic random orders")
    source.add_argument("--file", help="publish the order(s) in a JSON file (object or array)")
    publish.add_argument(
        "--rate", type=float, default=0.0, help="messages per second (0: as fast as possible)"
    )
    publish.add_argument(
        "--invalid-ratio", type=float, default=0.0, help="share of broken messages, 0 to 1"
    )
    publish.add_argument("--seed", type=int, default=None, help="random seed, for repeatable data")
    publish.add_argument("--quiet", action="store_true", help="no progress bar")

    cache = sub.add_parser("cache", help="reset or warm the cache")
    actions = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    command(
        "reset",
        lambda s, a, o: tool_commands.run_cache_reset(s, a),
        "drop every cached order (no data is lost)",
        actions,
    )
    warm = command(
        "warm",
        lambda s, a, o: tool_commands.run_cache_warm(s, a),
        "load the most recent orders",
        actions,
    )
    warm.add_argument(
        "--limit", type=int, default=None, help="how many (default: the warm_up_orders setting)"
    )
    dlq_commands.add_parsers(sub, command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {info.name: getattr(args, f"setting_{info.name}", None) for info in table()}
    try:
        settings = load(os.environ, overrides)
    except ConfigError as exc:
        print(f"order-service: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    handler: Handler = args.handler
    try:
        return handler(settings, args, overrides)
    except CommandError as exc:
        print(f"order-service: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
