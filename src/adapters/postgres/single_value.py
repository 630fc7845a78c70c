"""One value by one key, straight through libpq: the lookup miss's query.

A lookup miss is nothing but this query, and psycopg's cursor (binding, result objects,
row makers) costs more than the round trip: measured here with 16 lookups at once on 10
threads, 185 to 290 us of client CPU a query through a cursor, 80 to 100 us through
``PGconn``. ``PGconn.exec_prepared`` sends it and reads the answer with the GIL released;
the statement is prepared once per connection (PostgreSQL then skips parsing and planning
it for every miss), again if the server has forgotten it (a reset session, a pooler) or
the table changed under it (a migration).
Errors are raised as psycopg would raise them, so they are classified by SQLSTATE like
every other database error (``adapters.postgres.errors``).
"""

from __future__ import annotations

import weakref
from typing import Any

import attrs
import psycopg
from psycopg import pq

# The session has no such statement (reset, or a pooler's other session): prepare it.
_UNKNOWN_STATEMENT = b"26000"
# "cached plan must not change result type": the table changed under the statement.
_STALE_PLAN = b"0A000"
# Prepared already on this server session (a pooler shares sessions between clients).
_ALREADY_PREPARED = b"42P05"
# The key has a character the database's encoding cannot hold: no stored text equals it.
_KEY_NOT_STORABLE = frozenset({b"22P05", b"22021"})


@attrs.frozen
class KeyQuery:
    """A query with one text parameter ``$1``, prepared under ``name`` on each connection
    (a name no other statement uses: psycopg's own are ``_pg3_*``). Connections must use
    the UTF8 client encoding (``adapters.postgres.pool`` sets it): keys are sent, and
    values come back, as UTF-8."""

    name: bytes
    sql: bytes
    _prepared_on: weakref.WeakSet[psycopg.Connection[Any]] = attrs.field(
        factory=weakref.WeakSet, eq=False, repr=False
    )

    def fetch_value(
        self, conn: psycopg.Connection[Any], key: str, *, prepared: bool = True
    ) -> bytes | None:
        """The first column of the first row with ``$1`` = ``key``, or None when there is
        no row or no stored text can equal ``key``.

        ``prepared=False`` sends the query unnamed, parsed afresh each time, in one round
        trip: behind a transaction pooler that cannot track prepared statements (PgBouncer
        before 1.21), the prepare and the execute may reach different server sessions."""
        if "\x00" in key:
            return None  # PostgreSQL text never holds NUL; libpq would cut the key there
        try:
            param = key.encode()
        except UnicodeEncodeError:
            return None  # a lone surrogate: not text any database holds
        if not prepared:
            result = conn.pgconn.exec_params(self.sql, [param])
            if _state(result) in _KEY_NOT_STORABLE:
                return None
            _check(conn, result, pq.ExecStatus.TUPLES_OK)
            return result.get_value(0, 0) if result.ntuples else None
        if conn not in self._prepared_on:
            self._prepare(conn)
        result = conn.pgconn.exec_prepared(self.name, [param])
        state = _state(result)
        if state in (_UNKNOWN_STATEMENT, _STALE_PLAN):
            if state == _STALE_PLAN:
                conn.pgconn.exec_(b"DEALLOCATE " + self.name)
            self._prepare(conn)
            result = conn.pgconn.exec_prepared(self.name, [param])
            state = _state(result)
        if state in _KEY_NOT_STORABLE:
            return None
        _check(conn, result, pq.ExecStatus.TUPLES_OK)
        return result.get_value(0, 0) if result.ntuples else None

    def _prepare(self, conn: psycopg.Connection[Any]) -> None:
        result = conn.pgconn.prepare(self.name, self.sql)
        if _state(result) != _ALREADY_PREPARED:
            _check(conn, result, pq.ExecStatus.COMMAND_OK)
        self._prepared_on.add(conn)


def _state(result: pq.abc.PGresult) -> bytes | None:
    if result.status != pq.ExecStatus.FATAL_ERROR:
        return None
    return result.error_field(pq.DiagnosticField.SQLSTATE)


def _check(conn: psycopg.Connection[Any], result: pq.abc.PGresult, ok: pq.ExecStatus) -> None:
    if result.status == ok:
        return
    if conn.pgconn.status == pq.ConnStatus.BAD:
        # The connection broke mid-query (no SQLSTATE): what psycopg raises for it.
        message = pq.error_message(result, encoding=conn.info.encoding)
        raise psycopg.OperationalError(message or "the connection was lost")
    raise psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
