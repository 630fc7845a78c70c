"""GET /admin/dead-letters?limit=N: the latest dead letters, newest first, read-only.

Every partition of the dead-letter topic is read and merged by time; each dead letter says
its partition and offset (what ``order-service dlq show PARTITION:OFFSET`` takes), and the
answer gives each partition's bounds.

Behind the admin token like every /admin endpoint. The reasons and sources are data from
whoever sent the messages: the answer is JSON, and the web page shows them as text.
Replaying stays a command-line action (``order-service dlq replay``).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from entrypoints.http.admin_auth import denied
from entrypoints.http.bodies import (
    DeadLetterPartition,
    DeadLetters,
    DeadLetterSource,
    DeadLetterView,
    respond,
)
from entrypoints.http.errors import error_response
from order_core import DeadLetter, DeadLetterArchive, DeadLettersUnavailable, utc_time

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def _time(ms: int | None) -> str | None:
    moment = utc_time(ms)
    return None if moment is None else moment.isoformat(timespec="milliseconds")


def described(letter: DeadLetter) -> DeadLetterView:
    replay_of = letter.replay_of
    return DeadLetterView(
        partition=letter.partition,
        offset=letter.offset,
        dead_lettered_at=_time(letter.timestamp_ms),
        reason=letter.reason,
        source=DeadLetterSource(
            topic=letter.source_topic,
            partition=letter.source_partition,
            offset=letter.source_offset,
            written_at=_time(letter.source_timestamp_ms),
        ),
        stub=letter.stub,
        replay_of=None if replay_of is None else replay_of.offset,
        replay_of_partition=None if replay_of is None else replay_of.partition,
        original_bytes=letter.original_bytes,
    )


def _latest(reader: DeadLetterArchive, limit: int) -> DeadLetters:
    with reader:
        bounds = {partition: reader.bounds(partition) for partition in reader.partitions()}
        letters = reader.latest(limit)
    first, following = bounds.get(0, (0, 0))
    return DeadLetters(
        topic=reader.name,
        first_offset=first,
        next_offset=following,
        partitions=[DeadLetterPartition(p, low, high) for p, (low, high) in bounds.items()],
        dead_letters=[described(letter) for letter in reversed(letters)],
    )


async def latest_dead_letters(request: Request) -> Response:
    if (refusal := denied(request)) is not None:
        return refusal
    text = request.query_params.get("limit", str(DEFAULT_LIMIT))
    # ASCII digits only: int() would also take " 5", "1_0" and other scripts' digits.
    if not (text.isascii() and text.isdigit() and len(text) <= 6 and 1 <= int(text) <= MAX_LIMIT):
        return error_response(
            400, "bad_request", f"'limit' must be a whole number from 1 to {MAX_LIMIT}"
        )
    reader = request.app.state.dependencies.dead_letters()
    try:
        body = await run_in_threadpool(_latest, reader, int(text))
    except DeadLettersUnavailable as exc:
        return error_response(503, "unavailable", str(exc), headers={"Retry-After": "5"})
    return respond(body, headers={"Cache-Control": "no-store"})
