"""A PostgreSQL fault: the service's database sessions terminated again and again."""

from __future__ import annotations

import random
import threading
import time

import psycopg

# The service's sessions in this test's database (its pools name themselves "order-service
# lookups" and "order-service ingest"). Literal SQL: the % is LIKE's, not a placeholder.
SERVICE_SESSIONS = (
    "SELECT pid, state FROM pg_stat_activity"
    " WHERE application_name LIKE 'order-service%'"
    " AND datname = current_database() AND pid <> pg_backend_pid()"
)


class BackendKiller:
    """Terminates the service's PostgreSQL sessions in this database, again and again.

    One round every ``every`` seconds. A round first hunts, for up to ``hunt`` seconds, for
    a session in the middle of its work (running a statement, or inside a transaction) and
    terminates it the moment it shows up; if none does, it terminates every session (idle
    ones). While the service has work, nearly every round therefore cuts a transaction:
    how many did is a count the test can wait for (``reached``), not a matter of timing.
    """

    def __init__(
        self, database_url: str, every: tuple[float, float] = (0.1, 0.4), hunt: float = 0.5
    ) -> None:
        self.killed = 0
        self.killed_busy = 0  # of which were running a statement or inside a transaction
        self.rounds = 0
        self._url = database_url
        self._every = every
        self._hunt = hunt
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def reached(self, killed: int, busy: int) -> bool:
        return self.killed >= killed and self.killed_busy >= busy

    def _kill(self, conn: psycopg.Connection[tuple[object, ...]], busy_only: bool) -> int:
        # The filter first, in a subquery, and the kill in the outer select list: SQL does
        # not promise the order in which one WHERE clause is evaluated. OFFSET 0: the
        # subquery is never flattened into the outer query.
        where = " AND state <> 'idle'" if busy_only else ""
        rows = conn.execute(
            "SELECT state, pg_terminate_backend(pid) FROM ("
            + SERVICE_SESSIONS
            + where
            + " OFFSET 0) AS service"
        ).fetchall()
        self.killed += sum(1 for _, killed in rows if killed)
        busy = sum(1 for state, killed in rows if killed and state != "idle")
        self.killed_busy += busy
        return busy

    def _run(self) -> None:
        rng = random.Random(7)
        try:
            with psycopg.connect(self._url, autocommit=True) as conn:
                while not self._stop.wait(rng.uniform(*self._every)):
                    self.rounds += 1
                    deadline = time.monotonic() + self._hunt
                    while not self._stop.is_set() and time.monotonic() < deadline:
                        if self._kill(conn, busy_only=True):
                            break
                        time.sleep(0.003)
                    else:
                        self._kill(conn, busy_only=False)
        except BaseException as exc:
            self.error = exc

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        if self.error is not None:
            raise AssertionError(f"the session killer failed: {self.error!r}") from self.error
