"""Every PostgreSQL error, classified by its SQLSTATE class into the core's three outcomes.

- transient (retry the same work later): RepositoryUnavailable
- this order's data (set the order aside): RejectedByRepository
- anything else (a missing table or privilege, a bug: stop and say why): RepositoryFailed

Deciding by SQLSTATE rather than by exception type matters: psycopg raises
``OperationalError`` both for a lost connection (transient) and for "index row size
exceeds maximum" (54000: the data), and ``InternalError`` both for a read-only
transaction after a failover (25006: transient) and for real bugs.
"""

from __future__ import annotations

import psycopg
from psycopg_pool import PoolTimeout

from order_core.errors import RejectedByRepository, RepositoryFailed, RepositoryUnavailable

# 08 connection exception, 40 transaction rollback (serialization failure, deadlock),
# 53 insufficient resources (too many connections, disk full, out of memory),
# 57 operator intervention (admin shutdown, statement timeout, starting up),
# 58 system error (I/O error).
TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57", "58"})
TRANSIENT_STATES = frozenset(
    {
        "25006",  # read_only_sql_transaction: a replica promoted elsewhere, we hit the old one
        "55P03",  # lock_not_available
        "55006",  # object_in_use
    }
)
NOT_TRANSIENT_STATES = frozenset({"57P04", "58P01", "58P02"})  # database dropped; files gone
# 22 data exception (value out of range, bad text, NUL), 23 integrity constraint violation,
# 54 program limit exceeded (index row too large, too many columns).
DATA_CLASSES = frozenset({"22", "23", "54"})

Outcome = type[RepositoryUnavailable] | type[RejectedByRepository] | type[RepositoryFailed]


def outcome_of(exc: BaseException) -> Outcome:
    """The core's error class for a database error."""
    if isinstance(exc, PoolTimeout):
        return RepositoryUnavailable
    state = getattr(exc, "sqlstate", None)
    if state:
        if state in NOT_TRANSIENT_STATES:
            return RepositoryFailed
        if state in TRANSIENT_STATES or state[:2] in TRANSIENT_CLASSES:
            return RepositoryUnavailable
        if state[:2] in DATA_CLASSES:
            return RejectedByRepository
        return RepositoryFailed
    # No SQLSTATE: raised by the client library itself.
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return RepositoryUnavailable  # the connection failed or was closed under us
    if isinstance(exc, psycopg.DataError | psycopg.IntegrityError | OverflowError):
        return RejectedByRepository  # a value it cannot send (a NUL in text, an int too big)
    return RepositoryFailed


def translated(exc: BaseException) -> Exception:
    """The core exception to raise for ``exc`` (chain it with ``from exc``)."""
    state = getattr(exc, "sqlstate", None)
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    detail = f"SQLSTATE {state}: {first_line}" if state else first_line
    outcome = outcome_of(exc)
    if outcome is RepositoryUnavailable:
        return RepositoryUnavailable(f"PostgreSQL unavailable: {detail}")
    if outcome is RejectedByRepository:
        return RejectedByRepository(detail)
    return RepositoryFailed(f"PostgreSQL failed: {detail}")
