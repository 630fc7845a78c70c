"""The PostgreSQL repository against a real server: the contract, the table layout, and
every class of database error mapped to its outcome."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import attrs
import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from adapters.postgres import migrations
from adapters.postgres.migrations import available_migrations, migrate
from adapters.postgres.repository import CUSTOMER_PAGE_QUERY, PostgresOrderRepository
from adapters.postgres.rows import insert_statement, order_row
from adapters.postgres.single_value import KeyQuery
from order_core import (
    EncodedOrder,
    RejectedByRepository,
    RepositoryFailed,
    RepositoryUnavailable,
    decode_order,
)
from tests.contracts.repository import *  # noqa: F403 - the contract's tests
from tests.contracts.repository import encoded, numbered
from tests.support import ADMIN_URL

pytestmark = pytest.mark.integration


def test_sample_is_saved_in_normalized_tables(
    repository: PostgresOrderRepository, clean_database: str, sample_bytes: bytes
) -> None:
    order = decode_order(sample_bytes)
    assert repository.save_many([encoded(order)]).inserted == {order.order_uid}
    with psycopg.connect(clean_database) as conn:
        row = conn.execute(
            "SELECT o.track_number, d.city, p.amount, i.brand, i.position, o.date_created"
            " FROM orders o JOIN deliveries d USING (order_uid) JOIN payments p USING (order_uid)"
            " JOIN items i USING (order_uid) WHERE o.order_uid = %s",
            (order.order_uid,),
        ).fetchall()
    assert row == [
        ("WBILMTESTTRACK", "Kiryat Mozkin", 1817, "Vivienne Sabo", 0, order.date_created)
    ]
    document = repository.get_document(order.order_uid)
    assert document is not None
    assert orjson.loads(document) == orjson.loads(sample_bytes)


def test_replays_add_no_rows_to_any_table(
    repository: PostgresOrderRepository, clean_database: str
) -> None:
    repository.save_many([numbered(i) for i in range(3)])
    repository.save_many([numbered(i) for i in range(2, 5)])
    with psycopg.connect(clean_database) as conn:
        counts = [
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            for table in ("orders", "deliveries", "payments", "items")
        ]
    assert counts == [(5,), (5,), (5,), (5,)]


def test_a_batch_is_one_transaction(repository: PostgresOrderRepository) -> None:
    good = numbered(1)
    # Bypasses validation on purpose: the database's own check refuses a sale over 100.
    bad_order = numbered(2).order
    bad = encoded(attrs.evolve(bad_order, items=(attrs.evolve(bad_order.items[0], sale=150),)))
    with pytest.raises(RejectedByRepository, match="23514"):
        repository.save_many([good, bad])
    assert repository.count() == 0


def test_a_value_too_large_to_index_is_this_orders_data_not_an_outage(
    repository: PostgresOrderRepository,
) -> None:
    """Finding 1: SQLSTATE 54000 comes as an OperationalError; it is about the data."""
    # Validation would refuse this customer_id (over 255 characters); bypass it.
    noise = "".join(uuid.uuid4().hex for _ in range(200))  # 6,400 characters, incompressible
    order = attrs.evolve(numbered(1).order, customer_id=noise)
    with pytest.raises(RejectedByRepository, match="54000"):
        repository.save_many([encoded(order)])


def test_migrations_are_recorded_and_idempotent(clean_database: str) -> None:
    assert migrate(clean_database) == []
    with psycopg.connect(clean_database) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [v for v, _, _ in available_migrations()]


def test_instances_migrating_at_once_apply_each_migration_once_and_leave_no_lock() -> None:
    """The lock is the transaction's: nothing stays held on a (pooled) server session."""
    name = f"scratch_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    url = psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name)
    try:
        with ThreadPoolExecutor(4) as pool:
            applied = [n for names in pool.map(lambda _: migrate(url), range(4)) for n in names]
        assert sorted(applied) == [n for _, n, _ in available_migrations()]
        with psycopg.connect(url, autocommit=True) as conn:
            held = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
            assert held.fetchone() == (0,)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def test_a_migration_waits_for_another_instance_only_so_long(
    clean_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "LOCK_WAIT", 0.5)
    with psycopg.connect(clean_database, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (migrations._LOCK_KEY,))
        started = time.monotonic()
        with pytest.raises(RepositoryUnavailable, match="55P03"):
            migrate(clean_database)
        assert time.monotonic() - started < 3


@pytest.mark.parametrize("prepared", [True, False])
def test_prepared_statements_can_be_turned_off_for_a_pooler(
    clean_database: str, prepared: bool
) -> None:
    """Behind PgBouncer < 1.21 in transaction mode no statement may be prepared: the next
    transaction may run on a server session that never saw it."""
    repository = PostgresOrderRepository.open(
        clean_database, pool_size=1, prepared_statements=prepared
    )
    try:
        repository.save_many([numbered(1)])
        for _ in range(10):  # past psycopg's prepare_threshold (5) too
            assert repository.get_document("order-1") == numbered(1).document
            assert repository.customer_documents(numbered(1).order.customer_id, 5)
        with repository._pool.connection() as conn:  # the one session the lookups used
            row = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
        assert row is not None
        assert (row[0] > 0) is prepared
    finally:
        repository.close()


def test_a_customers_page_is_one_range_of_the_keyset_index(clean_database: str) -> None:
    params = {"customer": "c", "before": 10, "size": 21}
    with psycopg.connect(clean_database) as conn:
        conn.execute("SET enable_seqscan = off")  # an empty table: force the planner's hand
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + CUSTOMER_PAGE_QUERY, params))
        indexes = {row[0] for row in conn.execute("SELECT indexname FROM pg_indexes")}
    assert "Index Scan using orders_customer_id_seq_idx" in plan, plan
    assert "Sort" not in plan, plan  # the index gives the order
    assert "orders_customer_id_idx" not in indexes  # superseded, dropped


def test_unreachable_database_is_unavailable_within_the_timeout() -> None:
    repository = PostgresOrderRepository.open(
        "postgresql://orders:orders@127.0.0.1:1/orders", pool_size=1, timeout=1
    )
    try:
        with pytest.raises(RepositoryUnavailable):
            repository.get_document("x")
        with pytest.raises(RepositoryUnavailable):
            repository.save_many([numbered(1)])
    finally:
        repository.close()


@contextlib.contextmanager
def migrated_database(options: str = "") -> Iterator[str]:
    """A migrated database of its own (``options``: of CREATE DATABASE), dropped after."""
    name = f"scratch_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" {options}'.encode())
    url = psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name)
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A migrated database of its own, to break on purpose."""
    with migrated_database() as url:
        yield url


@pytest.mark.parametrize(
    ("breakage", "outcome", "sqlstate"),
    [
        # A replica promoted elsewhere: this server refuses writes for now.
        (
            "ALTER DATABASE {db} SET default_transaction_read_only = on",
            RepositoryUnavailable,
            "25006",
        ),
        # A missing table: no retry mends it.
        ("DROP TABLE items", RepositoryFailed, "42P01"),
        # A missing privilege (the owner may revoke its own): no retry mends it either.
        ("REVOKE INSERT ON orders FROM CURRENT_USER", RepositoryFailed, "42501"),
        # A migration that added a NOT NULL column before the code knew it: not the order's.
        ("ALTER TABLE orders ADD COLUMN region_code text NOT NULL", RepositoryFailed, "23502"),
        # A column whose type drifted: the binary rows no longer fit it, whatever the order.
        ("ALTER TABLE items ALTER COLUMN price TYPE integer", RepositoryFailed, "22P03"),
        ("ALTER TABLE orders ALTER COLUMN entry TYPE varchar(2)", RepositoryFailed, "22001"),
        # An operator's rule over an order's own value: this order's data, set aside.
        (
            "ALTER TABLE payments ADD CONSTRAINT currency_known CHECK (currency IN ('EUR'))",
            RejectedByRepository,
            "23514",
        ),
        (
            "CREATE UNIQUE INDEX one_payment ON payments (transaction) WHERE transaction = 'x'",
            RepositoryFailed,  # nothing to refuse: the sample's transaction is another
            "",
        ),
    ],
)
def test_each_class_of_database_error_has_its_outcome(
    scratch_database: str, breakage: str, outcome: type[Exception], sqlstate: str
) -> None:
    db = psycopg.conninfo.conninfo_to_dict(scratch_database)["dbname"]
    with psycopg.connect(scratch_database, autocommit=True) as conn:  # the owner breaks it
        conn.execute(breakage.format(db=f'"{db}"').encode())
    repository = PostgresOrderRepository.open(scratch_database, pool_size=1, timeout=2)
    try:
        if not sqlstate:  # the breakage refuses nothing of this order
            assert repository.save_many([numbered(1, prefix=uuid.uuid4().hex)]).inserted
            return
        # Through a URL with target_session_attrs=read-write (the cluster suite's), libpq
        # itself refuses a read-only server at connect: the same outcome, as a pool timeout.
        targeted = "target_session_attrs" in scratch_database
        expected = "couldn't get a connection" if targeted and sqlstate == "25006" else sqlstate
        with pytest.raises(outcome, match=expected) as raised:
            repository.save_many([numbered(1, prefix=uuid.uuid4().hex)])
        if outcome is RepositoryFailed and sqlstate[:2] in ("22", "23"):
            assert "not this order's data" in str(raised.value)
    finally:
        repository.close()


def test_a_session_on_a_server_turned_read_only_is_closed_not_reused(scratch_database: str) -> None:
    """After a failover an old primary may come back as a standby while our sessions to it
    live on: each refuses writes (25006) for as long as it lives. Such a session is closed,
    so once the server takes writes again (or libpq finds the new primary) the next save
    goes through on a new one. Given back to the pool, it would refuse every retry."""
    db = psycopg.conninfo.conninfo_to_dict(scratch_database)["dbname"]
    with psycopg.connect(scratch_database, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{db}" SET default_transaction_read_only = on'.encode())
    repository = PostgresOrderRepository.open(scratch_database, pool_size=1, timeout=2)
    try:
        with pytest.raises(RepositoryUnavailable, match=r"25006|couldn't get a connection"):
            repository.save_many([numbered(1, prefix="read-only-")])
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:  # a session that can write
            conn.execute(f'ALTER DATABASE "{db}" RESET default_transaction_read_only'.encode())
        # The pooled sessions began read-only and would stay so: only new ones can write.
        # Each save tries two sessions and the ingest pool holds two: within two saves, one
        # goes through on a new session.
        for _ in range(2):
            with contextlib.suppress(RepositoryUnavailable):
                assert repository.save_many([numbered(2, prefix="read-only-")]).inserted
                break
        else:
            pytest.fail("every save met a read-only session: they were given back, not closed")
    finally:
        repository.close()


def test_a_sequence_set_behind_the_stored_rows_stops_ingestion_not_an_order(
    scratch_database: str,
) -> None:
    """Finding: after a restore or a logical-replication cut-over, ``orders.seq`` may be
    behind the stored rows; every new order then collides on ``orders_seq_key``. That is
    the database's fault: the save fails for good (the consumer stops and says why), it
    does not dead-letter good orders."""
    repository = PostgresOrderRepository.open(scratch_database, pool_size=1, timeout=2)
    try:
        repository.save_many([numbered(i, prefix="before-") for i in range(3)])
        with psycopg.connect(scratch_database, autocommit=True) as conn:
            conn.execute("SELECT setval(pg_get_serial_sequence('orders', 'seq'), 1, false)")
        with pytest.raises(RepositoryFailed, match="orders_seq_key") as raised:
            repository.save_many([numbered(1, prefix="after-")])
        assert "23505" in str(raised.value)
        assert "covers seq, which no order fills" in str(raised.value)
    finally:
        repository.close()


@pytest.mark.parametrize(
    ("breakage", "sqlstate"),
    [
        ("REVOKE SELECT ON orders FROM CURRENT_USER", "42501"),
        ("DROP TABLE orders CASCADE", "42P01"),
    ],
)
def test_a_lookup_that_no_retry_can_mend_fails_with_its_sqlstate(
    scratch_database: str, breakage: str, sqlstate: str
) -> None:
    repository = PostgresOrderRepository.open(scratch_database, pool_size=1, timeout=2)
    try:
        assert repository.get_document("x") is None  # works before the breakage
        with psycopg.connect(scratch_database, autocommit=True) as conn:
            conn.execute(breakage.encode())
        with pytest.raises(RepositoryFailed, match=sqlstate):
            repository.get_document("x")
    finally:
        repository.close()


def test_a_lookup_whose_session_was_killed_is_answered_on_a_new_one(
    repository: PostgresOrderRepository, clean_database: str
) -> None:
    repository.save_many([numbered(1)])
    assert repository.get_document("order-1") == numbered(1).document  # a pooled session
    with psycopg.connect(clean_database, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'order-service lookups' AND datname = current_database()"
        ).fetchone()
    assert killed is not None
    assert killed[0] >= 1
    assert repository.get_document("order-1") == numbered(1).document


def test_a_prepared_lookup_prepares_again_on_a_session_that_forgot_it(
    repository: PostgresOrderRepository, clean_database: str
) -> None:
    repository.save_many([numbered(1)])
    query = KeyQuery(b"test_find", b"SELECT document FROM orders WHERE order_uid = $1")
    with psycopg.connect(clean_database, autocommit=True) as conn:
        assert query.fetch_value(conn, "order-1") == numbered(1).document
        conn.execute("DEALLOCATE ALL")  # as a pooler or a session reset would
        assert query.fetch_value(conn, "order-1") == numbered(1).document
        assert query.fetch_value(conn, "order-2") is None
    with psycopg.connect(clean_database, autocommit=True) as other:  # prepared there too
        assert query.fetch_value(other, "order-1") == numbered(1).document


def with_text(i: int, text: str) -> EncodedOrder:
    order = numbered(i).order
    return encoded(attrs.evolve(order, delivery=attrs.evolve(order.delivery, name=text)))


def test_documents_come_back_as_utf8_whatever_the_sessions_default_encoding(
    scratch_database: str,
) -> None:
    db = psycopg.conninfo.conninfo_to_dict(scratch_database)["dbname"]
    with psycopg.connect(scratch_database, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{db}" SET client_encoding = LATIN1'.encode())
    order = with_text(1, "Zoë Ørsted")
    repository = PostgresOrderRepository.open(scratch_database, pool_size=1, timeout=2)
    try:
        repository.save_many([order])
        assert repository.get_document(order.order_uid) == order.document  # byte for byte
        assert list(repository.recent_documents(10, 10)) == [{order.order_uid: order.document}]
        listed = repository.customer_documents(order.order.customer_id, limit=10)
        assert [saved.document for saved in listed] == [order.document]
    finally:
        repository.close()


def test_a_database_whose_encoding_is_not_utf8_is_read_but_never_written() -> None:
    """Ingest refuses it for good (the database's fault, not any order's: it would refuse or
    alter every order with a character it cannot hold); lookups still answer, and an id it
    cannot hold reads as absent."""
    options = "ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
    with migrated_database(options) as url:
        with psycopg.connect(url, autocommit=True) as conn:  # stored by another writer
            conn.execute(_BARE_ORDER, _bare_row(numbered(1)))
        repository = PostgresOrderRepository.open(url, pool_size=1, timeout=2)
        try:
            with pytest.raises(RepositoryFailed, match="encoding is LATIN1, not UTF8"):
                repository.save_many([numbered(2)])
            assert repository.get_document("€uro") is None  # no LATIN1 text holds "€"
            assert repository.get_document("order-1") == numbered(1).document
        finally:
            repository.close()


def test_a_prepared_lookup_survives_a_migration_that_changes_the_column_type(
    scratch_database: str,
) -> None:
    # The service's own query reads the document as text; this one reads the column as it
    # is, so the migration changes its result type under the prepared statement.
    query = KeyQuery(b"test_find_raw", b"SELECT document FROM orders WHERE order_uid = $1")
    own = PostgresOrderRepository.open(scratch_database, pool_size=1, timeout=2)
    try:
        own.save_many([numbered(1)])
        assert own.get_document("order-1") == numbered(1).document
        with psycopg.connect(scratch_database, autocommit=True) as conn:
            assert query.fetch_value(conn, "order-1") == numbered(1).document
            conn.execute("ALTER TABLE orders ALTER COLUMN document TYPE jsonb")
            after = query.fetch_value(conn, "order-1")
        assert after is not None
        assert orjson.loads(after) == orjson.loads(numbered(1).document)
        document = own.get_document("order-1")  # its pooled session prepared it before
        assert document is not None
        assert orjson.loads(document) == orjson.loads(numbered(1).document)
    finally:
        own.close()


def test_a_statement_another_client_prepared_on_the_session_is_used(
    repository: PostgresOrderRepository, clean_database: str
) -> None:
    # A pooler in transaction mode shares server sessions between its clients.
    repository.save_many([numbered(1)])
    sql = b"SELECT document FROM orders WHERE order_uid = $1"
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.pgconn.prepare(b"test_shared", sql)
        assert KeyQuery(b"test_shared", sql).fetch_value(conn, "order-1") == numbered(1).document


_BARE_ORDER = insert_statement("orders")


def _bare_row(order: EncodedOrder) -> tuple[object, ...]:
    """An orders row alone (no child rows), as another writer might store it: the document
    as text (a json parameter; bytes would be sent as bytea)."""
    return (*order_row(order)[:-1], order.document.decode())


def _bare(uid: str) -> tuple[object, ...]:
    return _bare_row(encoded(attrs.evolve(numbered(0).order, order_uid=uid, customer_id="pager")))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plan=st.lists(st.sampled_from(["insert", "commit", "page"]), min_size=1, max_size=25),
    before=st.integers(0, 6),
    page_size=st.integers(1, 3),
)
def test_pages_never_repeat_or_skip_what_was_stored_before_the_first_page(
    clean_database: str, plan: list[str], before: int, page_size: int
) -> None:
    """Several writers: a row's seq is taken at insert, seen at commit, so commits come out
    of seq order. A reader paging a customer's orders meanwhile sees every order committed
    before its first page exactly once, and never any order twice."""
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.execute("DELETE FROM orders WHERE customer_id = 'pager'")
        for i in range(before):
            conn.execute(_BARE_ORDER, _bare(f"pager-old-{i}"))
    repository = PostgresOrderRepository.open(clean_database, pool_size=1, timeout=2)
    writers: list[psycopg.Connection[tuple[object, ...]]] = []
    seen: list[bytes] = []
    try:
        at_start = {d.document for d in repository.customer_documents("pager", 1000)}
        cursor: int | None = None
        done = False
        for number, step in enumerate(plan):
            if step == "insert":
                writer = psycopg.connect(clean_database)
                writer.execute(_BARE_ORDER, _bare(f"pager-new-{number}"))
                writers.append(writer)
            elif step == "commit" and writers:
                writers.pop(0).commit()  # the oldest open one: out of seq order over time
            elif step == "page" and not done:
                page = repository.customer_documents("pager", page_size, before=cursor)
                seen += [d.document for d in page]
                if len(page) < page_size:
                    done = True
                elif page:
                    cursor = page[-1].position
        while not done:
            page = repository.customer_documents("pager", page_size, before=cursor)
            seen += [d.document for d in page]
            done = len(page) < page_size
            cursor = page[-1].position if page else cursor
    finally:
        for writer in writers:
            writer.rollback()
            writer.close()
        repository.close()
    assert len(seen) == len(set(seen)), "an order was listed twice"
    assert at_start <= set(seen), "an order stored before the first page was skipped"


EXPLODING_ITEMS = """
CREATE FUNCTION explode() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.name = 'explode' THEN RAISE EXCEPTION 'an item the test refuses'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER explode BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION explode();
"""
FOUR_TABLES = """
SELECT (SELECT count(*) FROM orders),
       (SELECT count(*) FROM deliveries d WHERE NOT EXISTS
            (SELECT 1 FROM orders o WHERE o.order_uid = d.order_uid)),
       (SELECT count(*) FROM payments p WHERE NOT EXISTS
            (SELECT 1 FROM orders o WHERE o.order_uid = p.order_uid)),
       (SELECT count(*) FROM items i WHERE NOT EXISTS
            (SELECT 1 FROM orders o WHERE o.order_uid = i.order_uid)),
       (SELECT count(*) FROM orders o WHERE
            (SELECT count(*) FROM deliveries d WHERE d.order_uid = o.order_uid) <> 1
         OR (SELECT count(*) FROM payments p WHERE p.order_uid = o.order_uid) <> 1
         OR (SELECT count(*) FROM items i WHERE i.order_uid = o.order_uid)
            <> json_array_length(o.document -> 'items'))
"""


def _exploding(i: int) -> EncodedOrder:
    """An order whose last item the database refuses: the save fails after the order, its
    delivery and its payment were written in its transaction."""
    order = numbered(i).order
    items = (*order.items, attrs.evolve(order.items[0], name="explode"))
    return encoded(attrs.evolve(order, items=items))


def test_no_order_is_ever_stored_in_part(scratch_database: str) -> None:
    """With no foreign keys (migration 003), integrity is the repository's doing: after any
    sequence of saves, saves refused midway (an item refused after the order, delivery and
    payment rows were written), replays and removals, every stored order has its delivery,
    its payment and all its items, and no row belongs to an order that is not stored."""
    with psycopg.connect(scratch_database, autocommit=True) as conn:
        conn.execute(EXPLODING_ITEMS.encode())
    repository = PostgresOrderRepository.open(scratch_database, pool_size=2)
    ids = st.integers(0, 24)
    batches = st.lists(ids, min_size=1, max_size=6, unique=True)  # the core groups copies

    class FourTables(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            with psycopg.connect(scratch_database, autocommit=True) as conn:
                conn.execute("TRUNCATE orders, deliveries, payments, items")
            self.stored: set[str] = set()
            self.saved_batches: list[list[int]] = []

        @rule(batch=batches)
        def save(self, batch: list[int]) -> None:
            result = repository.save_many([numbered(i) for i in batch])
            wanted = {f"order-{i}" for i in batch}
            assert result.inserted == wanted - self.stored
            self.stored |= wanted
            self.saved_batches.append(batch)

        @rule(batch=st.lists(ids, max_size=5, unique=True), refused=st.integers(100, 104))
        def save_refused_midway(self, batch: list[int], refused: int) -> None:
            # The refused order is never stored: its items are always written, and refused.
            orders = [numbered(i) for i in batch] + [_exploding(refused)]
            with pytest.raises((RepositoryFailed, RejectedByRepository), match="P0001"):
                repository.save_many(orders)

        @rule(data=st.data())
        def replay(self, data: st.DataObject) -> None:
            if not self.saved_batches:
                return
            batch = data.draw(st.sampled_from(self.saved_batches))
            wanted = {f"order-{i}" for i in batch}
            assert (
                repository.save_many([numbered(i) for i in batch]).inserted == wanted - self.stored
            )
            self.stored |= wanted

        @rule(batch=st.lists(ids, max_size=6))
        def remove(self, batch: list[int]) -> None:
            wanted = {f"order-{i}" for i in batch}
            assert repository.remove_many(sorted(wanted)) == wanted & self.stored
            self.stored -= wanted

        @invariant()
        def every_order_whole_and_no_row_alone(self) -> None:
            with psycopg.connect(scratch_database, autocommit=True) as conn:
                row = conn.execute(FOUR_TABLES).fetchone()
            assert row == (len(self.stored), 0, 0, 0, 0)

    try:
        run_state_machine_as_test(
            FourTables,
            settings=settings(
                max_examples=20,
                stateful_step_count=10,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        repository.close()
