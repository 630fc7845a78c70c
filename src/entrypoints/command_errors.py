"""Why a command failed, each said in one line; every one exits with status 1."""

from __future__ import annotations


class CommandError(RuntimeError):
    """A command could not do its work; the message says why, in one line."""


class Unreachable(CommandError):
    """A server the command needs cannot be reached (or refuses us)."""


class PublishError(CommandError):
    """Messages could not be published."""


class ConsumerStopped(CommandError):
    """The consumer stopped on an error that no retry can mend."""
