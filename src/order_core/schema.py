"""Every bound an order's fields must meet, in one place.

The model's annotations carry these bounds (``msgspec.Meta``), so decoding enforces them,
the explanation of a rejected message reports them, the OpenAPI document is generated from
them and a test holds the SQL schema against them. Each bound is chosen so that
PostgreSQL can always store and index a valid order: a valid order is never refused by
the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

import msgspec

# Text fields: 255 characters are at most 1,020 bytes of UTF-8, under PostgreSQL's
# btree limit of 2,704 bytes, so even the indexed ones (customer_id, transaction) fit.
MAX_TEXT_LENGTH: Final = 255
MAX_ORDER_UID_LENGTH: Final = 64
# \Z, not $: msgspec matches with re.search, where $ also matches before a final newline.
# Not "." nor "..": as a URL path segment (/orders/..) they would name another path.
ORDER_UID_PATTERN: Final = r"^(?!\.\.?\Z)[A-Za-z0-9_.\-]+\Z"
MAX_ITEMS: Final = 1000
BIGINT_MAX: Final = 2**63 - 1  # PostgreSQL bigint
INTEGER_MAX: Final = 2**31 - 1  # PostgreSQL integer
# Dates between 1970 and 9999, so that a time zone offset can never push one out of
# what Python's datetime (and so every reader of the API) can represent.
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(9999, 12, 30, tzinfo=UTC)
UNIX_TIME_MAX: Final = int(LATEST.timestamp())

OrderUid = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_ORDER_UID_LENGTH,
        pattern=ORDER_UID_PATTERN,
        description="letters, digits, '-', '_' and '.' (not '.' or '..' alone)",
    ),
]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_LENGTH)]
# A person's data (a name, a phone, an address): what is wrong with it is said, never the
# value itself (rejection reasons reach logs and dead-letter headers).
PERSONAL: Final = "personal"
PersonalText = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_LENGTH, extra={PERSONAL: True})]
RequiredText = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT_LENGTH)]
Amount = Annotated[int, msgspec.Meta(ge=0, le=BIGINT_MAX, description="minor units")]
BigId = Annotated[int, msgspec.Meta(ge=0, le=BIGINT_MAX)]
Status = Annotated[int, msgspec.Meta(ge=0, le=INTEGER_MAX)]
Percent = Annotated[int, msgspec.Meta(ge=0, le=100)]
UnixTime = Annotated[int, msgspec.Meta(ge=0, le=UNIX_TIME_MAX, description="Unix seconds")]
Timestamp = Annotated[
    datetime, msgspec.Meta(tz=True, description="RFC 3339, with a time zone, 1970 to 9999")
]


def timestamp_problem(value: datetime) -> str | None:
    """What is wrong with a decoded timestamp that its type alone cannot say."""
    if not EARLIEST <= value <= LATEST:
        return f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}"
    return None
