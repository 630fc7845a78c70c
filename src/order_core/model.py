"""The order, as the well-known sample (order, delivery, payment, items) describes it.

Value objects: frozen, compared by value. ``from_dict`` validates decoded JSON and raises
InvalidOrder naming every bad field; ``to_dict`` gives back the same JSON shape. Fields the
model does not know are ignored (a tolerant reader): they are neither stored nor served.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from order_core._reader import FieldReader
from order_core.errors import FieldError, InvalidOrder
from order_core.order_id import order_uid_problem


@attrs.frozen
class Delivery:
    name: str
    phone: str
    zip: str
    city: str
    address: str
    region: str
    email: str

    @classmethod
    def read(cls, r: FieldReader) -> Delivery:
        return cls(
            name=r.string("name"),
            phone=r.string("phone"),
            zip=r.string("zip"),
            city=r.string("city"),
            address=r.string("address"),
            region=r.string("region"),
            email=r.string("email"),
        )


@attrs.frozen
class Payment:
    """Money is in the currency's minor units, as integers, like the sample."""

    transaction: str
    request_id: str
    currency: str
    provider: str
    amount: int
    payment_dt: int  # Unix time, seconds
    bank: str
    delivery_cost: int
    goods_total: int
    custom_fee: int

    @classmethod
    def read(cls, r: FieldReader) -> Payment:
        return cls(
            transaction=r.string("transaction", required=True),
            request_id=r.string("request_id"),
            currency=r.string("currency", required=True),
            provider=r.string("provider"),
            amount=r.integer("amount"),
            payment_dt=r.integer("payment_dt"),
            bank=r.string("bank"),
            delivery_cost=r.integer("delivery_cost"),
            goods_total=r.integer("goods_total"),
            custom_fee=r.integer("custom_fee"),
        )

    @property
    def paid_at(self) -> datetime:
        return datetime.fromtimestamp(self.payment_dt, tz=UTC)


@attrs.frozen
class Item:
    chrt_id: int
    track_number: str
    price: int
    rid: str
    name: str
    sale: int  # percent off the price
    size: str
    total_price: int
    nm_id: int
    brand: str
    status: int

    @classmethod
    def read(cls, r: FieldReader) -> Item:
        return cls(
            chrt_id=r.integer("chrt_id"),
            track_number=r.string("track_number"),
            price=r.integer("price"),
            rid=r.string("rid", required=True),
            name=r.string("name"),
            sale=r.integer("sale", maximum=100),
            size=r.string("size"),
            total_price=r.integer("total_price"),
            nm_id=r.integer("nm_id"),
            brand=r.string("brand"),
            status=r.integer("status"),
        )


@attrs.frozen
class Order:
    order_uid: str
    track_number: str
    entry: str
    delivery: Delivery
    payment: Payment
    items: tuple[Item, ...]
    locale: str
    internal_signature: str
    customer_id: str
    delivery_service: str
    shardkey: str
    sm_id: int
    date_created: datetime  # always timezone-aware
    oof_shard: str

    @classmethod
    def from_dict(cls, data: object) -> Order:
        """Build an order from decoded JSON; raise InvalidOrder listing every problem."""
        errors: list[FieldError] = []
        r = FieldReader(data, "", errors)
        if not r.valid:
            raise InvalidOrder(errors)
        order_uid = r.string("order_uid")
        if "order_uid" in r.data and isinstance(r.data["order_uid"], str):
            problem = order_uid_problem(order_uid)
            if problem:
                r.fail("order_uid", problem)
        raw_items = r.array("items")
        if "items" in r.data and isinstance(r.data["items"], list) and not raw_items:
            r.fail("items", "must hold at least one item")
        order = cls(
            order_uid=order_uid,
            track_number=r.string("track_number", required=True),
            entry=r.string("entry"),
            delivery=Delivery.read(_child(r, "delivery")),
            payment=Payment.read(_child(r, "payment")),
            items=tuple(
                Item.read(FieldReader(raw, f"items[{i}]", errors))
                for i, raw in enumerate(raw_items)
            ),
            locale=r.string("locale"),
            internal_signature=r.string("internal_signature"),
            customer_id=r.string("customer_id"),
            delivery_service=r.string("delivery_service"),
            shardkey=r.string("shardkey"),
            sm_id=r.integer("sm_id"),
            date_created=r.timestamp("date_created"),
            oof_shard=r.string("oof_shard"),
        )
        if errors:
            raise InvalidOrder(errors)
        return order

    def to_dict(self) -> dict[str, Any]:
        """The order in the sample's JSON shape (key order included)."""
        data = attrs.asdict(self, recurse=True)
        data["items"] = list(data["items"])
        data["date_created"] = format_timestamp(self.date_created)
        return data

    @property
    def items_total(self) -> int:
        """What the items cost after their sales, in minor units."""
        return sum(item.total_price for item in self.items)


def _child(r: FieldReader, key: str) -> FieldReader:
    present, value = r.raw(key)
    if not present:
        return FieldReader({}, r.child_path(key), [])  # already reported as required
    return FieldReader(value, r.child_path(key), r.errors)


def format_timestamp(value: datetime) -> str:
    """ISO 8601 with 'Z' for UTC, as in the sample ("2021-11-26T06:22:19Z")."""
    text = value.isoformat()
    if value.utcoffset() == timedelta(0) and text.endswith("+00:00"):
        text = text[: -len("+00:00")] + "Z"
    return text
