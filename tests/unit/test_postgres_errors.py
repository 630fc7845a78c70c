"""Every PostgreSQL error has one outcome: by its SQLSTATE, and for a refusal by what was
refused (the order is blamed only for a constraint over its own columns)."""

from __future__ import annotations

from types import SimpleNamespace

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg_pool import PoolTimeout

from adapters.postgres.errors import (
    CONSTRAINT_STATES,
    DATABASE_COLUMNS,
    NOT_TRANSIENT_STATES,
    ORDER_COLUMNS_BY_TABLE,
    REFUSAL_CLASSES,
    TRANSIENT_CLASSES,
    TRANSIENT_STATES,
    Constraint,
    ConstraintLookup,
    outcome_of,
    translated,
)
from order_core import RejectedByRepository, RepositoryFailed, RepositoryUnavailable


class FakeDatabaseError(psycopg.DatabaseError):
    def __init__(
        self,
        sqlstate: str,
        table: str | None = None,
        constraint: str | None = None,
        column: str | None = None,
    ) -> None:
        self._state = sqlstate
        self._diag = SimpleNamespace(
            schema_name="public" if table else None,
            table_name=table,
            constraint_name=constraint,
            column_name=column,
        )
        super().__init__(f"error {sqlstate}")

    @property
    def sqlstate(self) -> str | None:  # type: ignore[override]
        return self._state

    @property
    def diag(self) -> SimpleNamespace:  # type: ignore[override]
        return self._diag


def catalog(kind: str, columns: frozenset[str]) -> ConstraintLookup:
    return lambda _schema, _table, _name: Constraint(kind, columns)


sqlstates = st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=5, max_size=5)
tables = st.sampled_from([*ORDER_COLUMNS_BY_TABLE, "audit_log"])
kinds = st.sampled_from(["c", "u", "x", "i", "p", "f"])
column_names = st.sampled_from(
    sorted({c for cols in ORDER_COLUMNS_BY_TABLE.values() for c in cols} | {"seq", "saved_at", "x"})
)


@given(sqlstates, tables, kinds, st.frozensets(column_names, max_size=4))
def test_every_error_falls_into_exactly_one_outcome(
    state: str, table: str, kind: str, columns: frozenset[str]
) -> None:
    exc = FakeDatabaseError(state, table, "some_constraint")
    outcome = outcome_of(exc, catalog(kind, columns))
    if state in NOT_TRANSIENT_STATES:
        assert outcome is RepositoryFailed
    elif state in TRANSIENT_STATES or state[:2] in TRANSIENT_CLASSES:
        assert outcome is RepositoryUnavailable
    elif state[:2] in REFUSAL_CLASSES:
        order_columns = ORDER_COLUMNS_BY_TABLE.get(table, frozenset())
        allowed = order_columns | (DATABASE_COLUMNS if state == "54000" else frozenset())
        blamed = (
            state in CONSTRAINT_STATES
            and kind not in ("p", "f")
            and bool(columns & order_columns)
            and columns <= allowed
        )
        assert outcome is (RejectedByRepository if blamed else RepositoryFailed)
    else:
        assert outcome is RepositoryFailed
    error = translated(exc, catalog(kind, columns))
    assert isinstance(error, outcome)
    assert state in str(error)
    if outcome is RepositoryFailed and state[:2] in REFUSAL_CLASSES:
        assert "not this order's data" in str(error)


@given(st.sampled_from(sorted(CONSTRAINT_STATES)), tables)
def test_a_refusal_is_never_blamed_on_the_order_without_the_catalogs_word(
    state: str, table: str
) -> None:
    assert outcome_of(FakeDatabaseError(state, table, "c")) is RepositoryFailed  # no lookup
    unknown: ConstraintLookup = lambda _s, _t, _n: None  # noqa: E731
    assert outcome_of(FakeDatabaseError(state, table, "c"), unknown) is RepositoryFailed
    assert outcome_of(FakeDatabaseError(state, table, None), unknown) is RepositoryFailed


@pytest.mark.parametrize(
    ("error", "constraint", "outcome"),
    [
        # A CHECK an operator put on an order's value (currency IN (...)): the order's data.
        (
            FakeDatabaseError("23514", "payments", "currency_known"),
            ("c", {"currency"}),
            RejectedByRepository,
        ),
        # The shipped CHECK on sale, met by an order that bypassed validation.
        (
            FakeDatabaseError("23514", "items", "items_sale_check"),
            ("c", {"sale"}),
            RejectedByRepository,
        ),
        # A UNIQUE over payments.transaction: a second order with that transaction.
        (
            FakeDatabaseError("23505", "payments", "one_payment"),
            ("u", {"transaction"}),
            RejectedByRepository,
        ),
        # An index row too large for an index over the order's text.
        (
            FakeDatabaseError("54000", "orders", "orders_customer_id_seq_idx"),
            ("i", {"customer_id", "seq"}),
            RejectedByRepository,
        ),
        (
            FakeDatabaseError("54000", "deliveries", "by_address"),
            ("i", {"address", "city"}),
            RejectedByRepository,
        ),
        # The sequence set behind the stored rows (a restore, a replication cut-over).
        (FakeDatabaseError("23505", "orders", "orders_seq_key"), ("u", {"seq"}), RepositoryFailed),
        # Rows left behind in deliveries: the service's own key, never the order's fault.
        (
            FakeDatabaseError("23505", "deliveries", "deliveries_pkey"),
            ("p", {"order_uid"}),
            RepositoryFailed,
        ),
        (
            FakeDatabaseError("23503", "items", "items_order_uid_fkey"),
            ("f", {"order_uid"}),
            RepositoryFailed,
        ),
        # A NOT NULL column added before the code knew it; a type that drifted; an encoding.
        (FakeDatabaseError("23502", "orders", None, "region_code"), None, RepositoryFailed),
        (FakeDatabaseError("22P03", "orders"), None, RepositoryFailed),
        (FakeDatabaseError("22001", "deliveries", None, "name"), None, RepositoryFailed),
        (FakeDatabaseError("22P05", "deliveries"), None, RepositoryFailed),
        # A table the service does not write.
        (
            FakeDatabaseError("23514", "audit_log", "x_check"),
            ("c", {"order_uid"}),
            RepositoryFailed,
        ),
    ],
)
def test_the_refusals_met_in_practice(
    error: FakeDatabaseError, constraint: tuple[str, set[str]] | None, outcome: type[Exception]
) -> None:
    lookup = None if constraint is None else catalog(constraint[0], frozenset(constraint[1]))
    assert outcome_of(error, lookup) is outcome


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        ("25006", RepositoryUnavailable),  # read-only transaction after a failover
        ("55P03", RepositoryUnavailable),  # lock_timeout
        ("57014", RepositoryUnavailable),  # statement_timeout
        ("25P03", RepositoryUnavailable),  # idle_in_transaction_session_timeout (frozen client)
        ("57P01", RepositoryUnavailable),  # admin shutdown
        ("40001", RepositoryUnavailable),  # serialization failure
        ("40P01", RepositoryUnavailable),  # deadlock
        ("08006", RepositoryUnavailable),  # connection failure
        ("53300", RepositoryUnavailable),  # too many connections
        ("25P02", RepositoryFailed),  # in failed transaction: a bug of ours
        ("42501", RepositoryFailed),  # insufficient privilege
        ("42P01", RepositoryFailed),  # undefined table
        ("XX000", RepositoryFailed),  # internal error
    ],
)
def test_the_states_met_in_practice(state: str, outcome: type[Exception]) -> None:
    assert outcome_of(FakeDatabaseError(state)) is outcome


def test_errors_without_a_sqlstate_are_classified_by_what_raised_them() -> None:
    assert outcome_of(PoolTimeout("no connection")) is RepositoryUnavailable
    assert outcome_of(psycopg.OperationalError("connection lost")) is RepositoryUnavailable
    assert outcome_of(psycopg.InterfaceError("the connection is closed")) is RepositoryUnavailable
    assert outcome_of(psycopg.DataError("NUL")) is RejectedByRepository
    assert outcome_of(OverflowError("int too big")) is RejectedByRepository
    assert outcome_of(psycopg.ProgrammingError("bad query")) is RepositoryFailed
