-- The normalized order schema. `document` keeps the canonical JSON so a lookup can send
-- it as it is; the other columns make the orders queryable in SQL.
CREATE TABLE orders (
    order_uid          text PRIMARY KEY,
    seq                bigint GENERATED ALWAYS AS IDENTITY UNIQUE,  -- save order, for "recent"
    track_number       text NOT NULL,
    entry              text NOT NULL,
    locale             text NOT NULL,
    internal_signature text NOT NULL,
    customer_id        text NOT NULL,
    delivery_service   text NOT NULL,
    shardkey           text NOT NULL,
    sm_id              bigint NOT NULL,
    date_created       timestamptz NOT NULL,
    oof_shard          text NOT NULL,
    saved_at           timestamptz NOT NULL DEFAULT now(),
    document           json NOT NULL
);

CREATE TABLE deliveries (
    order_uid text PRIMARY KEY REFERENCES orders (order_uid) ON DELETE CASCADE,
    name      text NOT NULL,
    phone     text NOT NULL,
    zip       text NOT NULL,
    city      text NOT NULL,
    address   text NOT NULL,
    region    text NOT NULL,
    email     text NOT NULL
);

CREATE TABLE payments (
    order_uid     text PRIMARY KEY REFERENCES orders (order_uid) ON DELETE CASCADE,
    transaction   text NOT NULL,
    request_id    text NOT NULL,
    currency      text NOT NULL,
    provider      text NOT NULL,
    amount        bigint NOT NULL CHECK (amount >= 0),
    payment_dt    bigint NOT NULL,
    bank          text NOT NULL,
    delivery_cost bigint NOT NULL CHECK (delivery_cost >= 0),
    goods_total   bigint NOT NULL CHECK (goods_total >= 0),
    custom_fee    bigint NOT NULL CHECK (custom_fee >= 0)
);

CREATE TABLE items (
    order_uid    text NOT NULL REFERENCES orders (order_uid) ON DELETE CASCADE,
    position     integer NOT NULL,  -- the item's place in the order's list
    chrt_id      bigint NOT NULL,
    track_number text NOT NULL,
    price        bigint NOT NULL CHECK (price >= 0),
    rid          text NOT NULL,
    name         text NOT NULL,
    sale         integer NOT NULL CHECK (sale BETWEEN 0 AND 100),
    size         text NOT NULL,
    total_price  bigint NOT NULL CHECK (total_price >= 0),
    nm_id        bigint NOT NULL,
    brand        text NOT NULL,
    status       integer NOT NULL,
    PRIMARY KEY (order_uid, position)
);

-- Support queries: a customer's orders, and the payment of a transaction.
CREATE INDEX orders_customer_id_idx ON orders (customer_id);
CREATE INDEX payments_transaction_idx ON payments (transaction);
