-- The child tables' foreign keys go. Their checks cost PostgreSQL as much as the rest of a
-- save (measured on the raw COPY ceiling, 500 orders a transaction: 52.6-54.0 us of backend
-- CPU an order with them, 27.0-27.2 without; 16,600 orders/s against 31,700). Integrity is
-- kept by construction instead: the repository is the only writer, it writes an order's
-- four tables in one transaction (and only for an order it has just inserted), and it
-- removes all four in one transaction; the repository's integrity test holds it to that
-- over generated sequences of saves, refused saves, replays and removals
-- (tests/integration/test_postgres_repository.py::test_no_order_is_ever_stored_in_part).
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_order_uid_fkey;
ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_order_uid_fkey;
ALTER TABLE items DROP CONSTRAINT IF EXISTS items_order_uid_fkey;
