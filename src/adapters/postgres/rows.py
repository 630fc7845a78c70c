"""An order as the rows of its four tables, with each column's PostgreSQL type.

The column lists are the single description of the table layout on the Python side: the
batch save, the raw-COPY ceiling of the benchmark and the test that holds the SQL schema
against the model's bounds all read them.
"""

from __future__ import annotations

from typing import Any

from order_core.model import Order
from order_core.ports import EncodedOrder

Row = tuple[Any, ...]

ORDER_COLUMNS = (
    ("order_uid", "text"),
    ("track_number", "text"),
    ("entry", "text"),
    ("locale", "text"),
    ("internal_signature", "text"),
    ("customer_id", "text"),
    ("delivery_service", "text"),
    ("shardkey", "text"),
    ("sm_id", "int8"),
    ("date_created", "timestamptz"),
    ("oof_shard", "text"),
    ("document", "json"),
)
DELIVERY_COLUMNS = (
    ("order_uid", "text"),
    *((name, "text") for name in ("name", "phone", "zip", "city", "address", "region", "email")),
)
PAYMENT_COLUMNS = (
    ("order_uid", "text"),
    ("transaction", "text"),
    ("request_id", "text"),
    ("currency", "text"),
    ("provider", "text"),
    ("amount", "int8"),
    ("payment_dt", "int8"),
    ("bank", "text"),
    ("delivery_cost", "int8"),
    ("goods_total", "int8"),
    ("custom_fee", "int8"),
)
ITEM_COLUMNS = (
    ("order_uid", "text"),
    ("position", "int4"),
    ("chrt_id", "int8"),
    ("track_number", "text"),
    ("price", "int8"),
    ("rid", "text"),
    ("name", "text"),
    ("sale", "int4"),
    ("size", "text"),
    ("total_price", "int8"),
    ("nm_id", "int8"),
    ("brand", "text"),
    ("status", "int4"),
)
TABLES = {
    "orders": ORDER_COLUMNS,
    "deliveries": DELIVERY_COLUMNS,
    "payments": PAYMENT_COLUMNS,
    "items": ITEM_COLUMNS,
}


def order_row(encoded: EncodedOrder) -> Row:
    o = encoded.order
    return (
        o.order_uid,
        o.track_number,
        o.entry,
        o.locale,
        o.internal_signature,
        o.customer_id,
        o.delivery_service,
        o.shardkey,
        o.sm_id,
        o.date_created,
        o.oof_shard,
        encoded.document,
    )


def delivery_row(o: Order) -> Row:
    d = o.delivery
    return (o.order_uid, d.name, d.phone, d.zip, d.city, d.address, d.region, d.email)


def payment_row(o: Order) -> Row:
    p = o.payment
    return (
        o.order_uid,
        p.transaction,
        p.request_id,
        p.currency,
        p.provider,
        p.amount,
        p.payment_dt,
        p.bank,
        p.delivery_cost,
        p.goods_total,
        p.custom_fee,
    )


def item_rows(o: Order) -> list[Row]:
    uid = o.order_uid
    return [
        (
            uid,
            position,
            i.chrt_id,
            i.track_number,
            i.price,
            i.rid,
            i.name,
            i.sale,
            i.size,
            i.total_price,
            i.nm_id,
            i.brand,
            i.status,
        )
        for position, i in enumerate(o.items)
    ]


def column_list(columns: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(name for name, _ in columns)


def column_types(columns: tuple[tuple[str, str], ...]) -> list[str]:
    return [kind for _, kind in columns]
