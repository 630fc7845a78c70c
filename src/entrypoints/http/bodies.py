"""Every JSON body the API answers with, as a typed struct.

The handlers build their answers from these, and the OpenAPI document's schemas are
generated from them (``openapi.py``), so the document and the answers cannot disagree.
The order itself is the model (``order_core.Order``); a customer's page is spliced from
the stored documents as they are (``customer_orders.page_body``) and described here by
``CustomerPage``, which a test decodes it as.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec
from starlette.responses import Response

from order_core import Order
from order_core.customer_orders import CURSOR_PATTERN, MAX_PAGE_SIZE

NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Time = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]
Cursor = Annotated[
    str,
    msgspec.Meta(
        pattern=CURSOR_PATTERN,
        description="send it as 'after' for the next page; null on the last page",
    ),
]


class ErrorDetail(msgspec.Struct):
    code: str
    message: str


class Error(msgspec.Struct):
    """The one error shape of every failure."""

    error: ErrorDetail


class Health(msgspec.Struct, omit_defaults=True):
    status: Literal["ok", "failing"]
    checks: dict[str, str] = msgspec.field(default_factory=dict)


class Readiness(msgspec.Struct):
    ready: bool
    checks: dict[str, str]


class CacheReset(msgspec.Struct):
    reset: bool


class CacheWarmed(msgspec.Struct):
    loaded: NonNegative


class DeadLetterSource(msgspec.Struct):
    topic: str | None
    partition: int | None
    offset: int | None
    written_at: Time | None


class DeadLetterView(msgspec.Struct):
    """One dead letter, named by its partition and offset (``PARTITION:OFFSET`` in the CLI)."""

    partition: Annotated[
        NonNegative, msgspec.Meta(description="the dead-letter topic's partition it is kept in")
    ]
    offset: Annotated[NonNegative, msgspec.Meta(description="its offset in that partition")]
    dead_lettered_at: Time | None
    reason: Annotated[str, msgspec.Meta(description="why it was set aside: show it as text")]
    source: DeadLetterSource
    stub: Annotated[bool, msgspec.Meta(description="the original was too large to keep")]
    replay_of: Annotated[
        int | None, msgspec.Meta(description="the offset of the dead letter it replayed")
    ]
    replay_of_partition: Annotated[
        int | None, msgspec.Meta(description="the partition of the dead letter it replayed")
    ]
    original_bytes: int | None


class DeadLetterPartition(msgspec.Struct):
    partition: NonNegative
    first_offset: Annotated[NonNegative, msgspec.Meta(description="the first still kept")]
    next_offset: Annotated[NonNegative, msgspec.Meta(description="the next to be written")]


class DeadLetters(msgspec.Struct):
    """The latest dead letters of every partition, newest first (by time, then partition,
    then offset)."""

    topic: str
    first_offset: Annotated[
        NonNegative, msgspec.Meta(description="partition 0's (see partitions for each)")
    ]
    next_offset: Annotated[
        NonNegative, msgspec.Meta(description="partition 0's (see partitions for each)")
    ]
    partitions: list[DeadLetterPartition]
    dead_letters: list[DeadLetterView]


class CustomerPage(msgspec.Struct):
    customer_id: str
    orders: Annotated[list[Order], msgspec.Meta(max_length=MAX_PAGE_SIZE)]
    next: Cursor | None


BODIES = (Order, Error, Health, Readiness, CacheReset, CacheWarmed, DeadLetters, CustomerPage)


def respond(
    body: msgspec.Struct, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """The answer with this body, as JSON."""
    encoded = msgspec.json.encode(body)
    return Response(encoded, status_code=status, media_type="application/json", headers=headers)
