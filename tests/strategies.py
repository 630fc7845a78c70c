"""Hypothesis strategies for valid orders and for the raw messages that carry them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from order_core import Delivery, Item, Order, Payment

ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
BIGINT = 2**63 - 1

order_uids = st.text(ID_ALPHABET, min_size=1, max_size=64)
# Any text PostgreSQL can hold: no NUL, no lone surrogates.
texts = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)
non_empty_texts = texts.filter(bool)
money = st.integers(min_value=0, max_value=BIGINT)
small_money = st.integers(min_value=0, max_value=10**9)

time_zones = st.builds(
    lambda minutes: UTC if minutes == 0 else timezone(timedelta(minutes=minutes)),
    st.integers(min_value=-12 * 60, max_value=14 * 60),
)
aware_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=time_zones
)

deliveries = st.builds(
    Delivery,
    name=texts,
    phone=texts,
    zip=texts,
    city=texts,
    address=texts,
    region=texts,
    email=texts,
)
payments = st.builds(
    Payment,
    transaction=non_empty_texts,
    request_id=texts,
    currency=non_empty_texts,
    provider=texts,
    amount=money,
    payment_dt=money,
    bank=texts,
    delivery_cost=small_money,
    goods_total=small_money,
    custom_fee=small_money,
)
items = st.builds(
    Item,
    chrt_id=money,
    track_number=texts,
    price=money,
    rid=non_empty_texts,
    name=texts,
    sale=st.integers(0, 100),
    size=texts,
    total_price=money,
    nm_id=money,
    brand=texts,
    status=st.integers(0, 1000),
)


def orders(uids: st.SearchStrategy[str] = order_uids) -> st.SearchStrategy[Order]:
    return st.builds(
        Order,
        order_uid=uids,
        track_number=non_empty_texts,
        entry=texts,
        delivery=deliveries,
        payment=payments,
        items=st.lists(items, min_size=1, max_size=4).map(tuple),
        locale=texts,
        internal_signature=texts,
        customer_id=texts,
        delivery_service=texts,
        shardkey=texts,
        sm_id=small_money,
        date_created=aware_datetimes,
        oof_shard=texts,
    )
