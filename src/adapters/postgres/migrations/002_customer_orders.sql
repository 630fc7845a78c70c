-- A customer's orders, newest first, page by page (GET /orders?customer_id=...): the keyset
-- query reads this index as one range, whatever page it is on. It supersedes the index on
-- customer_id alone, which it also serves (customer_id is its leading column).
CREATE INDEX orders_customer_id_seq_idx ON orders (customer_id, seq DESC);
DROP INDEX orders_customer_id_idx;
