"""The order, as the well-known sample (order, delivery, payment, items) describes it.

Value objects: frozen, compared by value, with the bounds of ``order_core.schema`` in their
annotations. ``order_core.codec`` turns bytes into orders and back. Fields the model does
not know are ignored (a tolerant reader): they are neither stored nor served.
"""

from __future__ import annotations

from typing import Annotated

import attrs
import msgspec

from order_core.schema import (
    MAX_ITEMS,
    Amount,
    BigId,
    OrderUid,
    Percent,
    PersonalText,
    RequiredText,
    Status,
    Text,
    Timestamp,
    UnixTime,
    timestamp_problem,
)

# slots=False: msgspec encodes a slotted attrs class's fields in sorted order, and the
# served JSON keeps the sample's key order.


@attrs.frozen(slots=False)
class Delivery:
    """Whom and where to deliver to: personal data, every field."""

    name: PersonalText
    phone: PersonalText
    zip: PersonalText
    city: PersonalText
    address: PersonalText
    region: PersonalText
    email: PersonalText


@attrs.frozen(slots=False)
class Payment:
    """Money is in the currency's minor units, as integers, like the sample."""

    transaction: RequiredText
    request_id: Text
    currency: RequiredText
    provider: Text
    amount: Amount
    payment_dt: UnixTime
    bank: Text
    delivery_cost: Amount
    goods_total: Amount
    custom_fee: Amount


@attrs.frozen(slots=False)
class Item:
    chrt_id: BigId
    track_number: Text
    price: Amount
    rid: RequiredText
    name: Text
    sale: Percent  # percent off the price
    size: Text
    total_price: Amount
    nm_id: BigId
    brand: Text
    status: Status


Items = Annotated[tuple[Item, ...], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]


@attrs.frozen(slots=False)
class Order:
    order_uid: OrderUid
    track_number: RequiredText
    entry: Text
    delivery: Delivery
    payment: Payment
    items: Items
    locale: Text
    internal_signature: Text
    customer_id: Text
    delivery_service: Text
    shardkey: Text
    sm_id: BigId
    date_created: Timestamp
    oof_shard: Text

    def __attrs_post_init__(self) -> None:
        # The one check a type annotation cannot carry; decoding reports it as invalid.
        problem = timestamp_problem(self.date_created)
        if problem is not None:
            raise ValueError(f"date_created {problem}")

    @property
    def items_total(self) -> int:
        """What the items cost after their sales, in minor units."""
        return sum(item.total_price for item in self.items)
