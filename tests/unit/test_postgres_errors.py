"""Every PostgreSQL error has one outcome, decided by its SQLSTATE class."""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg_pool import PoolTimeout

from adapters.postgres.errors import (
    DATA_CLASSES,
    NOT_TRANSIENT_STATES,
    TRANSIENT_CLASSES,
    TRANSIENT_STATES,
    outcome_of,
    translated,
)
from order_core import RejectedByRepository, RepositoryFailed, RepositoryUnavailable


class FakeDatabaseError(psycopg.DatabaseError):
    def __init__(self, sqlstate: str) -> None:
        self._state = sqlstate
        super().__init__(f"error {sqlstate}")

    @property
    def sqlstate(self) -> str | None:  # type: ignore[override]
        return self._state


sqlstates = st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=5, max_size=5)


@given(sqlstates)
def test_every_sqlstate_falls_into_exactly_one_outcome(state: str) -> None:
    outcome = outcome_of(FakeDatabaseError(state))
    if state in NOT_TRANSIENT_STATES:
        assert outcome is RepositoryFailed
    elif state in TRANSIENT_STATES or state[:2] in TRANSIENT_CLASSES:
        assert outcome is RepositoryUnavailable
    elif state[:2] in DATA_CLASSES:
        assert outcome is RejectedByRepository
    else:
        assert outcome is RepositoryFailed
    error = translated(FakeDatabaseError(state))
    assert isinstance(error, outcome)
    assert state in str(error)


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        ("54000", RejectedByRepository),  # index row size exceeds the btree maximum
        ("22021", RejectedByRepository),  # invalid byte sequence (NUL)
        ("23514", RejectedByRepository),  # check constraint
        ("25006", RepositoryUnavailable),  # read-only transaction after a failover
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
