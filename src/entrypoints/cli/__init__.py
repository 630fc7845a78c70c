"""The ``order-service`` command line: the service's commands and the operator's tools."""

from entrypoints.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
