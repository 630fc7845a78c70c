"""Connection pools for PostgreSQL (one for lookups, one for ingestion, never shared), the
bounds every session keeps, and the watchdog that enforces the one libpq cannot.

Every wait on the database has a bound:
- connecting: ``connect_timeout``;
- a dead peer or a network that drops packets: TCP keepalives and ``tcp_user_timeout`` on
  every connection (a silent peer is noticed within ``tcp_timeout``);
- a save's statements and locks, server side: ``statement_timeout``, ``lock_timeout`` and
  ``idle_in_transaction_session_timeout``, set in each save's own transaction (``SET
  LOCAL``: nothing leaks to another client of a transaction pooler);
- a server that stops answering without closing anything (every backend frozen, or only
  ours): no timer of the server's can fire, so the ``SaveWatchdog`` cuts the connection's
  socket when a save outlives ``save_deadline``, and the blocked call returns at once with
  a connection error (transient: retried on another connection).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import psycopg
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)


@attrs.frozen
class SessionBounds:
    """How long a session may wait, in seconds (the defaults fit 500-order batches, which
    take 20-50 ms, with room for a slow disk)."""

    statement_timeout: float = 30.0
    lock_timeout: float = 10.0
    tcp_timeout: float = 15.0
    connect_timeout: float = 3.0

    @property
    def save_deadline(self) -> float:
        """When a save is abandoned whatever the server does: its statements' own bound,
        plus the time for the server to say so."""
        return self.statement_timeout + 5.0

    def connection_options(self) -> dict[str, Any]:
        """libpq parameters: keepalives that notice a silent peer within ``tcp_timeout``
        (idle a third of it, then three probes a sixth apart), and unacknowledged sends
        given up after it."""
        return {
            "connect_timeout": max(1, round(self.connect_timeout)),
            "keepalives": 1,
            "keepalives_idle": max(1, round(self.tcp_timeout / 3)),
            "keepalives_interval": max(1, round(self.tcp_timeout / 6)),
            "keepalives_count": 3,
            "tcp_user_timeout": max(1000, round(self.tcp_timeout * 1000)),
        }

    def transaction_settings(self) -> bytes:
        """The ``SET LOCAL``s a save sends first, in one round trip."""
        ms = {
            "statement_timeout": self.statement_timeout,
            "lock_timeout": self.lock_timeout,
            "idle_in_transaction_session_timeout": self.statement_timeout,
        }
        return "; ".join(f"SET LOCAL {name} = {round(s * 1000)}" for name, s in ms.items()).encode()


def open_pool(
    conninfo: str,
    *,
    name: str,
    max_size: int = 10,
    timeout: float = 5.0,
    bounds: SessionBounds | None = None,
    configure: Callable[[psycopg.Connection[tuple[object, ...]]], None] | None = None,
    prepared_statements: bool = True,
) -> ConnectionPool:
    """A pool that opens in the background: the service starts even when the database is
    down, and each request waits at most ``timeout`` for a connection.

    ``prepared_statements=False`` never prepares a statement on the server: behind a
    transaction pooler that cannot track them (PgBouncer before 1.21, or without
    ``max_prepared_statements``), the next transaction may run on a server connection
    that has never seen it."""
    options = (bounds or SessionBounds()).connection_options()
    if not prepared_statements:
        options["prepare_threshold"] = None
    pool = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        timeout=timeout,
        open=False,
        name=name,
        configure=configure,
        # Autocommit: a lookup is one round trip, not BEGIN, SELECT, COMMIT; saves run in
        # the explicit transaction of conn.transaction().
        kwargs={
            **options,
            # Documents go in and out as UTF-8 bytes, whatever the server's or the
            # environment's (PGCLIENTENCODING) default.
            "client_encoding": "UTF8",
            "application_name": f"order-service {name}",
            "autocommit": True,
        },
        # Drop a failed background connection attempt at once rather than retry it for
        # minutes: each request asks for a new one, so the pool reconnects as soon as the
        # server answers again (within one pool timeout).
        reconnect_timeout=0,
    )
    pool.open(wait=False)
    return pool


READ_ONLY = "25006"  # read_only_sql_transaction


@contextmanager
def checked_out(
    pool: ConnectionPool, timeout: float | None = None
) -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection, closed rather than given back when its server refused a write
    as read-only: it is a standby now (an old primary that came back as one after a
    failover, or one reached without ``target_session_attrs``). Given back, it would refuse
    every retry; closed, the retry connects afresh and libpq finds the primary."""
    with pool.connection(timeout=timeout) as conn:
        try:
            yield conn
        except psycopg.Error as exc:
            if exc.sqlstate == READ_ONLY:
                log.warning("closing a connection to a read-only PostgreSQL (a standby now)")
                conn.close()
            raise


class SaveWatchdog:
    """Cuts the socket of a connection whose save runs past its deadline.

    One thread for all saves, started on first use. Cutting (``shutdown`` of the socket,
    through a duplicate of its descriptor) wakes the blocked libpq call with a connection
    error; the pool then discards the connection.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._watched: dict[int, tuple[float, psycopg.Connection[Any]]] = {}
        self._thread: threading.Thread | None = None
        self.cuts = 0

    @contextmanager
    def guard(self, conn: psycopg.Connection[Any], seconds: float) -> Iterator[None]:
        token = id(conn)
        with self._condition:
            self._watched[token] = (time.monotonic() + seconds, conn)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="postgres-save-watchdog", daemon=True
                )
                self._thread.start()
            self._condition.notify()
        try:
            yield
        finally:
            with self._condition:
                self._watched.pop(token, None)

    def cut_all(self) -> None:
        """Cut every guarded save now (the process is stopping)."""
        with self._condition:
            for _, conn in list(self._watched.values()):
                self._cut(conn, "the process is stopping")

    def _watch(self) -> None:
        while True:
            with self._condition:
                now = time.monotonic()
                late = [c for deadline, c in self._watched.values() if deadline <= now]
                # Cut under the lock: a save that ends meanwhile cannot hand its
                # connection to someone else before the cut.
                for conn in late:
                    self._watched.pop(id(conn), None)
                    self._cut(conn, "a save ran past its deadline")
                nearest = min((d for d, _ in self._watched.values()), default=now + 60)
                self._condition.wait(max(0.01, nearest - now))

    def _cut(self, conn: psycopg.Connection[Any], why: str) -> None:
        try:
            duplicate = os.dup(conn.pgconn.socket)
        except (OSError, psycopg.OperationalError) as exc:
            log.info("no PostgreSQL connection to cut (%s): %s", why, exc)
            return  # closed already
        try:
            with socket.socket(fileno=duplicate) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError as exc:
            log.warning("could not cut a PostgreSQL connection (%s): %s", why, exc)
            return
        self.cuts += 1
        log.warning("cut a PostgreSQL connection: %s", why)
