"""``order-service dlq list | show | replay``: the operator's dead-letter tools.

``replay`` publishes chosen originals to the orders topic again, each with a
``dlq.replay-of`` header naming its dead-letter offset. Replays are safe: storage is
idempotent, so an order already stored is counted as such and not stored twice. A replay
that fails again is dead-lettered again, as a new dead letter at a new offset whose
``dlq.replay-of`` says which one it repeats; nothing is removed from the dead-letter topic.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta

from adapters.kafka.client.publisher import PublishFailed, PublishRefused
from adapters.kafka.dead_letters.format import REPLAY_OF, replay_refusal
from entrypoints.cli import dead_letter_text as dlq_text
from entrypoints.cli.errors import CommandError, PublishError, Unreachable
from entrypoints.container import dead_letter_tools
from entrypoints.settings import Settings
from order_core import DeadLetter, DeadLetterArchive, DeadLettersUnavailable

REPLAY_CHUNK = 500
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"(?:\d{1,6}[smhdw])+")


class NotFound(CommandError):
    """There is no dead letter at the offset asked for."""


class ReplayRefused(CommandError):
    """A dead letter named for replay holds no original this version can replay (a stub,
    or a record of a newer format)."""


def since(text: str) -> datetime:
    """``--since``: an ISO 8601 date-time (UTC unless it says otherwise) or a duration back
    from now such as ``90m``, ``2h``, ``1d12h``."""
    if _DURATION.fullmatch(text):
        span = timedelta()
        for amount, unit in re.findall(r"(\d+)([smhdw])", text):
            span += timedelta(**{_UNITS[unit]: int(amount)})
        return datetime.now(UTC) - span
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither an ISO date-time (2026-01-31T09:00Z) nor a duration (2h)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _missing(reader: DeadLetterArchive, offset: int) -> NotFound:
    low, high = reader.bounds()
    held = f"holds offsets {low} to {high - 1}" if high > low else "is empty"
    return NotFound(f"no dead letter at offset {offset}: {reader.name} {held}")


def run_list(settings: Settings, args: argparse.Namespace) -> int:
    try:
        with dead_letter_tools(settings) as tools:
            letters = tools.archive.latest(args.limit)
    except DeadLettersUnavailable as exc:
        raise Unreachable(str(exc)) from None
    if not letters:
        print(f"no dead letters in {settings.kafka_dlq_topic}")
        return 0
    print(dlq_text.listing(letters))
    return 0


def run_show(settings: Settings, args: argparse.Namespace) -> int:
    try:
        with dead_letter_tools(settings) as tools:
            letter = tools.archive.at(args.offset)
            if letter is None:
                raise _missing(tools.archive, args.offset)
    except DeadLettersUnavailable as exc:
        raise Unreachable(str(exc)) from None
    print(dlq_text.details(letter, settings.kafka_dlq_topic))
    return 0


def _chosen(reader: DeadLetterArchive, args: argparse.Namespace) -> Iterator[DeadLetter]:
    if args.offset:
        # Every named offset is checked before anything is sent: all or nothing.
        letters = []
        for offset in sorted(set(args.offset)):
            letter = reader.at(offset)
            if letter is None:
                raise _missing(reader, offset)
            if (refusal := replay_refusal(letter)) is not None:
                raise ReplayRefused(refusal)
            letters.append(letter)
        yield from letters
    elif args.all:
        low, high = reader.bounds()  # fixed now: replays that fail again land after it
        yield from reader.read(low, high)
    else:
        yield from reader.since(int(args.since.timestamp() * 1000))


def _chunks(letters: Iterable[DeadLetter], skipped: list[str]) -> Iterator[list[DeadLetter]]:
    """The letters to replay, a chunk at a time; those that cannot be replayed (stubs,
    newer formats) are set aside in ``skipped``, with the reason."""
    chunk: list[DeadLetter] = []
    for letter in letters:
        if (refusal := replay_refusal(letter)) is not None:
            skipped.append(refusal)
            continue
        chunk.append(letter)
        if len(chunk) == REPLAY_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_replay(settings: Settings, args: argparse.Namespace) -> int:
    replayed: list[int] = []
    skipped: list[str] = []
    try:
        with dead_letter_tools(settings) as tools:
            for chunk in _chunks(_chosen(tools.archive, args), skipped):
                if not args.dry_run:
                    tools.replay(chunk)
                replayed += [letter.offset for letter in chunk]
    except DeadLettersUnavailable as exc:
        raise Unreachable(str(exc)) from None
    except (PublishFailed, PublishRefused) as exc:
        raise PublishError(f"replay failed after {len(replayed)} dead letters: {exc}") from None
    for refusal in skipped:
        print(f"order-service: skipped: {refusal}", file=sys.stderr)
    verb = "would replay" if args.dry_run else "replayed"
    print(f"{verb} {len(replayed)} dead letters to {settings.kafka_topic}{_offsets(replayed)}")
    if replayed and not args.dry_run:
        print(
            f"each carries {REPLAY_OF}=<its dead-letter offset>; one that fails again "
            "becomes a new dead letter with that header"
        )
    return 0


def _offsets(offsets: list[int]) -> str:
    if not offsets:
        return ""
    if len(offsets) <= 10:
        return " (offsets " + ", ".join(map(str, offsets)) + ")"
    return f" (offsets {offsets[0]} to {offsets[-1]})"


Command = Callable[..., argparse.ArgumentParser]


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser], command: Command) -> None:
    """``dlq`` and its actions, each made by the CLI's ``command`` helper."""
    dlq = sub.add_parser("dlq", help="list, show and replay dead letters")
    actions = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    listed = command(
        "list", lambda s, a, o: run_list(s, a), "the latest dead letters, oldest first", actions
    )
    listed.add_argument("--limit", type=_positive, default=50, help="how many (default 50)")
    shown = command(
        "show", lambda s, a, o: run_show(s, a), "one dead letter and its original", actions
    )
    shown.add_argument("offset", type=_non_negative, help="its offset in the dead-letter topic")
    replay = command(
        "replay",
        lambda s, a, o: run_replay(s, a),
        "publish originals to the orders topic again (a failure is dead-lettered again, "
        "marked dlq.replay-of)",
        actions,
    )
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--offset", type=_non_negative, action="append", help="this one (repeat for more)"
    )
    which.add_argument("--all", action="store_true", help="every dead letter still kept")
    which.add_argument(
        "--since", type=since, help="those dead-lettered since: 2026-01-31T09:00Z, or 2h, 1d"
    )
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed")


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value
