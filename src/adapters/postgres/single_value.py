"""One value by one key, straight through libpq: the lookup miss's query.

psycopg's cursor costs about 100 us of Python per query around a round trip that libpq
makes in 10 to 20 (binding, result objects, row makers), and a lookup miss is nothing but
that query. ``PGconn.exec_params`` sends it and reads the answer with the GIL released.
Errors are raised as psycopg would raise them, so they are classified by SQLSTATE like
every other database error (``adapters.postgres.errors``).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import pq


def fetch_value(conn: psycopg.Connection[Any], query: bytes, key: str) -> bytes | None:
    """The first column of the first row of ``query`` with ``$1`` = ``key`` (as text), or
    None when there is no row or no stored text can equal ``key``."""
    if "\x00" in key:
        return None  # PostgreSQL text never holds NUL; libpq would cut the key there
    try:
        param = key.encode(conn.info.encoding)
    except UnicodeEncodeError:
        return None  # not representable in the database's encoding: stored nowhere
    pgconn = conn.pgconn
    result = pgconn.exec_params(query, [param])
    if result.status != pq.ExecStatus.TUPLES_OK:
        if pgconn.status == pq.ConnStatus.BAD:
            # The connection broke mid-query (no SQLSTATE): what psycopg raises for it.
            message = pq.error_message(result, encoding=conn.info.encoding)
            raise psycopg.OperationalError(message or "the connection was lost")
        raise psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
    if result.ntuples == 0:
        return None
    return result.get_value(0, 0)
