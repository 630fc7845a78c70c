"""Realistic random orders (and, on request, broken messages) for demos, tests and benchmarks."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

_NAMES = [
    "Anna Ivanova",
    "Test Testov",
    "Maria Garcia",
    "John Smith",
    "Li Wei",
    "Olga Petrova",
    "Ahmed Hassan",
    "Sofia Rossi",
    "Noah Cohen",
    "Emma Dubois",
]
_CITIES = [
    ("Kiryat Mozkin", "Kraiot"),
    ("Moscow", "Moscow"),
    ("Haifa", "Haifa"),
    ("Kazan", "Tatarstan"),
    ("Yerevan", "Yerevan"),
    ("Almaty", "Almaty"),
]
_STREETS = ["Ploshad Mira", "Lenina", "Herzl", "Tverskaya", "Abay", "Sadovaya"]
_PRODUCTS = [
    ("Mascaras", "Vivienne Sabo"),
    ("Lipstick", "Maybelline"),
    ("T-shirt", "Nike"),
    ("Sneakers", "Adidas"),
    ("Phone case", "Spigen"),
    ("Mug", "IKEA"),
    ("Notebook", "Moleskine"),
    ("Headphones", "Sony"),
    ("Backpack", "Xiaomi"),
]
_BANKS = ["alpha", "sber", "tinkoff", "vtb"]
_SERVICES = ["meest", "cdek", "boxberry", "dhl"]
_CURRENCIES = ["USD", "EUR", "RUB", "KZT"]
_LOCALES = ["en", "ru"]


def random_order(rng: random.Random, order_uid: str | None = None) -> dict[str, Any]:
    """One valid order in the sample's shape, with consistent totals and 1 to 5 items."""
    uid = order_uid or uuid.UUID(int=rng.getrandbits(128)).hex[:19]
    track = "WB" + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=12))
    items: list[dict[str, Any]] = []
    for _ in range(rng.randint(1, 5)):
        name, brand = rng.choice(_PRODUCTS)
        price = rng.randint(100, 20_000)
        sale = rng.choice([0, 0, 10, 15, 30, 50])
        items.append(
            {
                "chrt_id": rng.randint(1_000_000, 9_999_999),
                "track_number": track,
                "price": price,
                "rid": uuid.UUID(int=rng.getrandbits(128)).hex[:21],
                "name": name,
                "sale": sale,
                "size": rng.choice(["0", "S", "M", "L", "XL", "42"]),
                "total_price": price * (100 - sale) // 100,
                "nm_id": rng.randint(1_000_000, 9_999_999),
                "brand": brand,
                "status": rng.choice([200, 202, 203]),
            }
        )
    goods_total = sum(i["total_price"] for i in items)
    delivery_cost = rng.choice([0, 500, 1500])
    created = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 60_000_000))
    city, region = rng.choice(_CITIES)
    name = rng.choice(_NAMES)
    return {
        "order_uid": uid,
        "track_number": track,
        "entry": "WBIL",
        "delivery": {
            "name": name,
            "phone": "+" + str(rng.randint(10**9, 10**11)),
            "zip": str(rng.randint(100000, 999999)),
            "city": city,
            "address": f"{rng.choice(_STREETS)} {rng.randint(1, 200)}",
            "region": region,
            "email": name.split()[0].lower() + "@example.com",
        },
        "payment": {
            "transaction": uid,
            "request_id": "",
            "currency": rng.choice(_CURRENCIES),
            "provider": "wbpay",
            "amount": goods_total + delivery_cost,
            "payment_dt": int(created.timestamp()) + rng.randint(0, 3600),
            "bank": rng.choice(_BANKS),
            "delivery_cost": delivery_cost,
            "goods_total": goods_total,
            "custom_fee": 0,
        },
        "items": items,
        "locale": rng.choice(_LOCALES),
        "internal_signature": "",
        "customer_id": f"customer{rng.randint(1, 5000)}",
        "delivery_service": rng.choice(_SERVICES),
        "shardkey": str(rng.randint(0, 9)),
        "sm_id": rng.randint(1, 100),
        "date_created": created.isoformat().replace("+00:00", "Z"),
        "oof_shard": str(rng.randint(0, 9)),
    }


def invalid_message(rng: random.Random) -> tuple[str, bytes]:
    """A broken message and what is wrong with it: each kind the consumer must dead-letter."""
    order = random_order(rng)
    kind = rng.choice(
        [
            "not_json",
            "not_utf8",
            "empty",
            "wrong_shape",
            "missing_field",
            "negative_amount",
            "no_items",
            "bad_id",
            "bad_date",
        ]
    )
    if kind == "not_json":
        return kind, b"{this is not json"
    if kind == "not_utf8":
        return kind, b'{"order_uid": "\xff\xfe"}'
    if kind == "empty":
        return kind, b""
    if kind == "wrong_shape":
        return kind, orjson.dumps([order])
    if kind == "missing_field":
        del order["payment"]
    elif kind == "negative_amount":
        order["payment"]["amount"] = -order["payment"]["amount"] - 1
    elif kind == "no_items":
        order["items"] = []
    elif kind == "bad_id":
        order["order_uid"] = "bad id <script>"
    else:
        order["date_created"] = "yesterday"
    return kind, orjson.dumps(order)


def messages(
    count: int, seed: int | None = None, invalid_ratio: float = 0.0
) -> Iterator[tuple[bytes | None, bytes, bool]]:
    """(key, value, valid) for ``count`` messages, a share ``invalid_ratio`` of them broken."""
    rng = random.Random(seed)  # test data, not secrets
    for _ in range(count):
        if invalid_ratio and rng.random() < invalid_ratio:
            _, value = invalid_message(rng)
            yield None, value, False
        else:
            order = random_order(rng)
            yield order["order_uid"].encode(), orjson.dumps(order), True
