"""An order as the rows of its four tables, with each column's PostgreSQL type.

Derived from the model: every scalar field of ``Order``, ``Delivery``, ``Payment`` and
``Item`` is a column of the same name, typed from its annotation and bound
(``order_core.schema``): text, ``int4`` for an integer whose bound fits 32 bits, else
``int8``, ``timestamptz``. The tables add what the model does not hold: the order's
canonical JSON (``orders.document``), the key of the child tables (``order_uid``) and an
item's position. A new field is then a migration adding its column, and nothing here.

The column lists are the single description of the table layout on the Python side: the
batch save, the benchmark's baseline and raw-COPY ceiling, and the test that holds the SQL
schema against the model's bounds all read them.
"""

from __future__ import annotations

import operator
import typing
from datetime import datetime
from typing import Any

import attrs
import msgspec

from order_core.model import Delivery, Item, Order, Payment
from order_core.ports import EncodedOrder
from order_core.schema import INTEGER_MAX

Row = tuple[Any, ...]
Columns = tuple[tuple[str, str], ...]


def _column_type(hint: Any) -> str | None:
    """The PostgreSQL type of a field's column; None for a field that is not a column
    (a nested object or a list: tables of their own)."""
    base, *extras = (
        typing.get_args(hint) if typing.get_origin(hint) is typing.Annotated else (hint,)
    )
    if base is str:
        return "text"
    if base is datetime:
        return "timestamptz"
    if base is int:
        bounds = [m.le for m in extras if isinstance(m, msgspec.Meta) and m.le is not None]
        return "int4" if bounds and max(bounds) <= INTEGER_MAX else "int8"
    return None


def scalar_columns(model: type) -> Columns:
    """(name, type) of each of the model's fields stored as a column, in the model's order.

    A field of a kind this table layout does not know (a bool, a float, an optional
    value) stops the import, naming it: it must never be left out of the tables silently.
    """
    hints = typing.get_type_hints(model, include_extras=True)
    columns = []
    for field in attrs.fields(model):
        hint = hints[field.name]
        kind = _column_type(hint)
        if kind is not None:
            columns.append((field.name, kind))
        elif not _stored_elsewhere(hint):
            raise TypeError(
                f"{model.__name__}.{field.name}: no column type for {hint!r}; "
                "give it one in adapters/postgres/rows.py"
            )
    return tuple(columns)


def _stored_elsewhere(hint: Any) -> bool:
    """A nested object or a list of them: a table of its own."""
    annotated = typing.get_origin(hint) is typing.Annotated
    base = typing.get_args(hint)[0] if annotated else hint
    return attrs.has(base) or typing.get_origin(base) is tuple


_KEY = (("order_uid", "text"),)
_ORDER_FIELDS = scalar_columns(Order)
_DELIVERY_FIELDS = scalar_columns(Delivery)
_PAYMENT_FIELDS = scalar_columns(Payment)
_ITEM_FIELDS = scalar_columns(Item)

ORDER_COLUMNS: Columns = (*_ORDER_FIELDS, ("document", "json"))
DELIVERY_COLUMNS: Columns = (*_KEY, *_DELIVERY_FIELDS)
PAYMENT_COLUMNS: Columns = (*_KEY, *_PAYMENT_FIELDS)
ITEM_COLUMNS: Columns = (*_KEY, ("position", "int4"), *_ITEM_FIELDS)
TABLES = {
    "orders": ORDER_COLUMNS,
    "deliveries": DELIVERY_COLUMNS,
    "payments": PAYMENT_COLUMNS,
    "items": ITEM_COLUMNS,
}
# Which model each table stores the fields of.
MODELS: dict[str, type] = {
    "orders": Order,
    "deliveries": Delivery,
    "payments": Payment,
    "items": Item,
}


def _getter(columns: Columns) -> Any:
    return operator.attrgetter(*(name for name, _ in columns))  # a tuple: several names


_order_values = _getter(_ORDER_FIELDS)
_delivery_values = _getter(_DELIVERY_FIELDS)
_payment_values = _getter(_PAYMENT_FIELDS)
_item_values = _getter(_ITEM_FIELDS)


def order_row(encoded: EncodedOrder) -> Row:
    return (*_order_values(encoded.order), encoded.document)


def delivery_row(o: Order) -> Row:
    return (o.order_uid, *_delivery_values(o.delivery))


def payment_row(o: Order) -> Row:
    return (o.order_uid, *_payment_values(o.payment))


def item_rows(o: Order) -> list[Row]:
    uid = o.order_uid
    return [(uid, position, *_item_values(i)) for position, i in enumerate(o.items)]


def column_list(columns: Columns) -> str:
    return ", ".join(name for name, _ in columns)


def column_types(columns: Columns) -> list[str]:
    return [kind for _, kind in columns]


def insert_statement(table: str) -> str:
    """``INSERT INTO table (every column) VALUES (%s, ...)``, for a row of that table."""
    columns = TABLES[table]  # a KeyError for any other name: no input reaches the SQL
    placeholders = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO {table} ({column_list(columns)}) VALUES ({placeholders})"  # noqa: S608
