"""``order-service dlq list | show | replay``: the operator's dead-letter tools.

A dead letter is named ``PARTITION:OFFSET``: its partition of the dead-letter topic and its
offset there (``dlq list`` shows them so). An offset alone names partition 0 of a topic
with one partition, as before the topic could have more; with several it is a usage error.

``replay`` publishes chosen originals to the orders topic again, each with a
``dlq.replay-of`` header naming its dead letter. Replays are safe: storage is idempotent,
so an order already stored is counted as such and not stored twice. A replay that fails
again is dead-lettered again, as a new dead letter whose ``dlq.replay-of`` says which one
it repeats; nothing is removed from the dead-letter topic. ``--all`` and ``--since`` cover
every partition, each up to its end when the command starts (so replays that fail again
are not replayed again), in time order.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta

import attrs

from adapters.kafka.client.publisher import PublishFailed, PublishRefused
from adapters.kafka.dead_letters.format import REPLAY_OF, replay_refusal
from entrypoints.cli import dead_letter_text as dlq_text
from entrypoints.cli.errors import CommandError, PublishError, Unreachable
from entrypoints.container import dead_letter_tools
from entrypoints.settings import Settings
from order_core import DeadLetter, DeadLetterArchive, DeadLetterId, DeadLettersUnavailable

REPLAY_CHUNK = 500
SHOWN_NAMES = 10  # dead letters named in a replay's summary
USAGE_ERROR = 2  # the exit status of argparse's errors
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"(?:\d{1,6}[smhdw])+")
_NAMED = re.compile(r"(?:([0-9]{1,10}):)?([0-9]{1,19})")
NAMED_HELP = "PARTITION:OFFSET, as listed (OFFSET alone: partition 0 of a one-partition topic)"


class NotFound(CommandError):
    """There is no dead letter where it was asked for."""


class Ambiguous(Exception):
    """An offset alone on a topic with several partitions: a usage error (exit 2), said
    once the topic's partitions are known."""


@attrs.frozen
class Named:
    """A dead letter as given on the command line: ``PARTITION:OFFSET`` or ``OFFSET``."""

    partition: int | None
    offset: int


def named(text: str) -> Named:
    """``PARTITION:OFFSET`` (``2:17``), or an ``OFFSET`` alone."""
    found = _NAMED.fullmatch(text)
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not PARTITION:OFFSET (2:17) or an OFFSET alone (17)"
        )
    partition, offset = found.groups()
    return Named(None if partition is None else int(partition), int(offset))


def resolve(archive: DeadLetterArchive, wanted: Named) -> DeadLetterId:
    """The dead letter named: an offset alone is partition 0's, on a topic that has only
    that one (or none yet); on one with several it says nothing, and raises Ambiguous."""
    if wanted.partition is not None:
        return DeadLetterId(wanted.partition, wanted.offset)
    partitions = archive.partitions()
    if len(partitions) > 1:
        raise Ambiguous(
            f"offset {wanted.offset} alone is ambiguous: {archive.name} has {len(partitions)} "
            f"partitions; give PARTITION:OFFSET (e.g. {partitions[0]}:{wanted.offset}), "
            "as dlq list shows them"
        )
    return DeadLetterId(0, wanted.offset)


def _usage_error(action: str, exc: Ambiguous) -> int:
    print(f"order-service dlq {action}: error: {exc}", file=sys.stderr)
    return USAGE_ERROR


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


def _missing(reader: DeadLetterArchive, wanted: DeadLetterId) -> NotFound:
    partitions = reader.partitions()
    if partitions and wanted.partition not in partitions:
        held = f"has partitions {', '.join(map(str, partitions))}"
    else:
        low, high = reader.bounds(wanted.partition)
        held = f"holds offsets {low} to {high - 1}" if high > low else "is empty"
        if len(partitions) > 1:
            held = f"partition {wanted.partition} {held}"
    return NotFound(f"no dead letter at {wanted}: {reader.name} {held}")


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
            wanted = resolve(tools.archive, args.letter)
            letter = tools.archive.at(wanted.partition, wanted.offset)
            if letter is None:
                raise _missing(tools.archive, wanted)
    except DeadLettersUnavailable as exc:
        raise Unreachable(str(exc)) from None
    except Ambiguous as exc:
        return _usage_error("show", exc)
    print(dlq_text.details(letter, settings.kafka_dlq_topic))
    return 0


def _chosen(reader: DeadLetterArchive, args: argparse.Namespace) -> Iterator[DeadLetter]:
    if args.offset:
        # Every named dead letter is checked before anything is sent: all or nothing.
        letters = []
        for wanted in sorted({resolve(reader, given) for given in args.offset}):
            letter = reader.at(wanted.partition, wanted.offset)
            if letter is None:
                raise _missing(reader, wanted)
            if (refusal := replay_refusal(letter)) is not None:
                raise ReplayRefused(refusal)
            letters.append(letter)
        yield from letters
    elif args.all:
        # Each partition's end fixed now: replays that fail again land after it.
        ranges = {p: reader.bounds(p) for p in reader.partitions()}
        yield from reader.read_merged(ranges)
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
    replayed: list[DeadLetterId] = []
    skipped: list[str] = []
    try:
        with dead_letter_tools(settings) as tools:
            for chunk in _chunks(_chosen(tools.archive, args), skipped):
                if not args.dry_run:
                    tools.replay(chunk)
                replayed += [letter.id for letter in chunk]
    except DeadLettersUnavailable as exc:
        raise Unreachable(str(exc)) from None
    except (PublishFailed, PublishRefused) as exc:
        raise PublishError(f"replay failed after {len(replayed)} dead letters: {exc}") from None
    except Ambiguous as exc:
        return _usage_error("replay", exc)
    for refusal in skipped:
        print(f"order-service: skipped: {refusal}", file=sys.stderr)
    verb = "would replay" if args.dry_run else "replayed"
    print(f"{verb} {len(replayed)} dead letters to {settings.kafka_topic}{_names(replayed)}")
    if replayed and not args.dry_run:
        print(
            f"each carries {REPLAY_OF}=<its dead letter: PARTITION:OFFSET, the offset alone "
            "on partition 0>; one that fails again becomes a new dead letter with that header"
        )
    return 0


def _names(letters: list[DeadLetterId]) -> str:
    if not letters:
        return ""
    shown = ", ".join(map(str, letters[:SHOWN_NAMES]))
    more = len(letters) - SHOWN_NAMES
    return f" ({shown}{f' and {more} more' if more > 0 else ''})"


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
    shown.add_argument("letter", type=named, metavar="PARTITION:OFFSET", help=NAMED_HELP)
    replay = command(
        "replay",
        lambda s, a, o: run_replay(s, a),
        "publish originals to the orders topic again (a failure is dead-lettered again, "
        "marked dlq.replay-of)",
        actions,
    )
    replay.description = (
        "Publish the chosen originals to the orders topic again. --offset names dead "
        "letters one by one, as PARTITION:OFFSET (an OFFSET alone only on a one-partition "
        "topic); all are checked before any is sent. --all and --since span every "
        "partition of the dead-letter topic: on each, from its first dead letter still "
        "kept (--all) or its first dead-lettered at or after T (--since) to its end when "
        "the command starts, so replays that fail again are not replayed again; they are "
        "replayed in time order across partitions."
    )
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--offset",
        type=named,
        action="append",
        metavar="PARTITION:OFFSET",
        help="this one (repeat for more): " + NAMED_HELP,
    )
    which.add_argument(
        "--all", action="store_true", help="every dead letter still kept, on every partition"
    )
    which.add_argument(
        "--since",
        metavar="T",
        type=since,
        help="those dead-lettered since, on every partition: 2026-01-31T09:00Z, or 2h, 1d",
    )
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed")


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value
