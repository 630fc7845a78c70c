"""Every PostgreSQL error, classified into the core's three outcomes.

- transient (retry the same work later): RepositoryUnavailable
- this order's data (set the order aside): RejectedByRepository
- anything else (a missing table or privilege, a schema that drifted, a bug: stop and say
  why): RepositoryFailed

The SQLSTATE decides, not the exception type: psycopg raises ``OperationalError`` both for
a lost connection (transient) and for "index row size exceeds maximum" (54000), and
``InternalError`` both for a read-only transaction after a failover (25006: transient) and
for real bugs.

A refusal is blamed on the order only with evidence. Validation keeps every value within
the shipped schema's types and rules, so a refusal of class 22, 23 or 54 is usually the
database's doing: a sequence set behind the stored rows (23505 on ``orders_seq_key``), a
migration that added a ``NOT NULL`` column (23502), a column whose type drifted (22P03,
22001, 22003), a database whose encoding is not UTF8 (22P05). Only a *constraint or index
over the order's own columns* can refuse an order for what it holds: a CHECK an operator
added (``currency IN (...)``), a UNIQUE over ``payments.transaction``, an index whose row a
long value overflows (54000). So for the four states such a constraint raises, the
repository looks up the columns of the constraint the error names (``constraint_columns``),
and only when every one of them is a column the service fills from the order (for an index
row too large, also the database's own fixed-width ``seq`` and ``saved_at``: the length is
the order's), and the constraint is not a primary or foreign key (the service's own
identity and links), is it this order's data. Anything else stops the consumer with the reason.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import psycopg
from psycopg_pool import PoolTimeout

from adapters.postgres.rows import TABLES
from order_core.errors import RejectedByRepository, RepositoryFailed, RepositoryUnavailable

# 08 connection exception, 40 transaction rollback (serialization failure, deadlock),
# 53 insufficient resources (too many connections, disk full, out of memory),
# 57 operator intervention (admin shutdown, statement timeout, starting up),
# 58 system error (I/O error).
TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57", "58"})
TRANSIENT_STATES = frozenset(
    {
        "25006",  # read_only_sql_transaction: a replica promoted elsewhere, we hit the old one
        "25P03",  # idle_in_transaction_session_timeout: the session was ended; a new one works
        "55P03",  # lock_not_available (lock_timeout)
        "55006",  # object_in_use
    }
)
NOT_TRANSIENT_STATES = frozenset({"57P04", "58P01", "58P02"})  # database dropped; files gone
# 22 data exception, 23 integrity constraint violation, 54 program limit exceeded: refusals
# of what was written, the order's only with evidence (see the module's docstring).
REFUSAL_CLASSES = frozenset({"22", "23", "54"})
# The states a constraint or an index over the order's columns raises.
CONSTRAINT_STATES = frozenset(
    {
        "23505",  # unique_violation
        "23514",  # check_violation
        "23P01",  # exclusion_violation
        "54000",  # program_limit_exceeded: an index row too large names its index
    }
)
# The columns the service fills from the order, per table, and those the database fills
# itself (fixed-width: they can never make an index row too large).
ORDER_COLUMNS_BY_TABLE = {
    table: frozenset(name for name, _ in columns) for table, columns in TABLES.items()
}
DATABASE_COLUMNS = frozenset({"seq", "saved_at"})


@attrs.frozen
class Constraint:
    """A constraint or index of a table, as the catalog describes it."""

    kind: str  # pg_constraint.contype ("c", "u", "p", "f", "x"), or "i" for a bare index
    columns: frozenset[str]


# (schema, table, constraint or index name) -> what the catalog says, None if it has none.
ConstraintLookup = Callable[[str, str, str], Constraint | None]

Outcome = type[RepositoryUnavailable] | type[RejectedByRepository] | type[RepositoryFailed]


@attrs.frozen
class Verdict:
    outcome: Outcome
    why: str = ""  # for a refusal not blamed on the order: what it was instead


def judge(exc: BaseException, constraints: ConstraintLookup | None = None) -> Verdict:
    """The core's error class for a database error, and for a refusal, why.

    ``constraints`` may raise (the database went away meanwhile): let it propagate; the
    caller's error handling retries.
    """
    if isinstance(exc, PoolTimeout):
        return Verdict(RepositoryUnavailable)
    state = getattr(exc, "sqlstate", None)
    if state:
        if state in NOT_TRANSIENT_STATES:
            return Verdict(RepositoryFailed)
        if state in TRANSIENT_STATES or state[:2] in TRANSIENT_CLASSES:
            return Verdict(RepositoryUnavailable)
        if state[:2] in REFUSAL_CLASSES:
            return _refusal(exc, state, constraints)
        return Verdict(RepositoryFailed)
    # No SQLSTATE: raised by the client library itself.
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return Verdict(RepositoryUnavailable)  # the connection failed or was closed under us
    if isinstance(exc, psycopg.DataError | psycopg.IntegrityError | OverflowError):
        # A value that cannot even be sent (a NUL in text, an integer too big): the value's.
        return Verdict(RejectedByRepository)
    return Verdict(RepositoryFailed)


def outcome_of(exc: BaseException, constraints: ConstraintLookup | None = None) -> Outcome:
    return judge(exc, constraints).outcome


def _refusal(exc: BaseException, state: str, constraints: ConstraintLookup | None) -> Verdict:
    diag = getattr(exc, "diag", None)
    schema = getattr(diag, "schema_name", None)
    table = getattr(diag, "table_name", None)
    name = getattr(diag, "constraint_name", None)
    if state not in CONSTRAINT_STATES:
        column = getattr(diag, "column_name", None)
        where = f" (column {table}.{column})" if table and column else ""
        return Verdict(
            RepositoryFailed,
            f"not this order's data: validation keeps every value within the shipped schema,"
            f" so the schema or the database differs from it{where}",
        )
    if not (schema and table and name) or table not in ORDER_COLUMNS_BY_TABLE:
        return Verdict(RepositoryFailed, "not this order's data: it names no constraint of ours")
    if constraints is None:
        return Verdict(RepositoryFailed, f"not this order's data: {name} could not be looked up")
    found = constraints(schema, table, name)
    if found is None:
        return Verdict(RepositoryFailed, f"not this order's data: {name} is not in the catalog")
    if found.kind in ("p", "f"):
        return Verdict(
            RepositoryFailed,
            f"not this order's data: {name} is the service's own key (rows left behind?)",
        )
    order_columns = ORDER_COLUMNS_BY_TABLE[table]
    foreign = found.columns - order_columns
    if state == "54000":  # an index row too large: only the order's values have a length
        foreign -= DATABASE_COLUMNS
    if foreign or not found.columns & order_columns:
        return Verdict(
            RepositoryFailed,
            f"not this order's data: {name} covers {', '.join(sorted(foreign)) or 'no column'},"
            " which no order fills",
        )
    return Verdict(RejectedByRepository)


def translated(exc: BaseException, constraints: ConstraintLookup | None = None) -> Exception:
    """The core exception to raise for ``exc`` (chain it with ``from exc``)."""
    state = getattr(exc, "sqlstate", None)
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    detail = f"SQLSTATE {state}: {first_line}" if state else first_line
    verdict = judge(exc, constraints)
    if verdict.outcome is RepositoryUnavailable:
        return RepositoryUnavailable(f"PostgreSQL unavailable: {detail}")
    if verdict.outcome is RejectedByRepository:
        return RejectedByRepository(detail)
    why = f" ({verdict.why})" if verdict.why else ""
    return RepositoryFailed(f"PostgreSQL failed: {detail}{why}")
