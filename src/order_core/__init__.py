"""order_core: the order domain and its use cases, free of any I/O library or framework.

Plug in a repository and a cache (see ``order_core.ports``) and use:

- ``SaveThenCache``: validate a batch of raw messages, save the valid orders, cache them;
- ``CacheThenRepository``: look an order up in the cache, then the repository;
- ``CacheAdmin``: warm the cache up with recent orders, or reset it.
"""

from order_core.cache_admin import CacheAdmin
from order_core.cache_writer import CacheWriter
from order_core.codec import decode_order, encode_order
from order_core.errors import (
    CacheUnavailable,
    FieldError,
    InvalidOrder,
    InvalidOrderId,
    RejectedByRepository,
    RepositoryUnavailable,
)
from order_core.ingest import IngestResult, Rejected, SaveThenCache
from order_core.lookup import ABSENT, CacheThenRepository
from order_core.model import Delivery, Item, Order, Payment
from order_core.order_id import MAX_ORDER_UID_LENGTH, check_order_uid, order_uid_problem
from order_core.ports import EncodedOrder, NoTelemetry, OrderCache, OrderRepository, Telemetry

__all__ = [
    "ABSENT",
    "MAX_ORDER_UID_LENGTH",
    "CacheAdmin",
    "CacheThenRepository",
    "CacheUnavailable",
    "CacheWriter",
    "Delivery",
    "EncodedOrder",
    "FieldError",
    "IngestResult",
    "InvalidOrder",
    "InvalidOrderId",
    "Item",
    "NoTelemetry",
    "Order",
    "OrderCache",
    "OrderRepository",
    "Payment",
    "Rejected",
    "RejectedByRepository",
    "RepositoryUnavailable",
    "SaveThenCache",
    "Telemetry",
    "check_order_uid",
    "decode_order",
    "encode_order",
    "order_uid_problem",
]
