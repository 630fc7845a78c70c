"""order_core: the order domain and its use cases, free of any I/O library or framework.

Plug in a repository and a cache (see ``order_core.ports``) and use:

- ``SaveThenCache``: validate a batch of raw messages, save the valid orders, cache them;
- ``CacheThenRepository``: look an order up in the cache, then the repository;
- ``CacheAdmin``: warm the cache up with recent orders, or reset it;
- ``CustomerOrders``: a customer's orders, newest first, a page at a time.
"""

from order_core.breaker import CircuitBreaker
from order_core.cache_admin import CacheAdmin
from order_core.cache_gateway import CacheGateway
from order_core.codec import decode_order, encode_order
from order_core.customer_orders import CustomerOrders, OrderPage
from order_core.dead_letters import (
    DeadLetter,
    DeadLetterId,
    DeadLettersUnavailable,
    by_time,
    latest_by_time,
    merged_by_time,
    stub_refusal,
    utc_time,
)
from order_core.errors import (
    CacheUnavailable,
    FieldError,
    InvalidOrder,
    InvalidOrderId,
    InvalidPageRequest,
    RejectedByRepository,
    RepositoryFailed,
    RepositoryUnavailable,
)
from order_core.ingest import IngestResult, Rejected, SaveThenCache
from order_core.lookup import Answer, CacheThenRepository
from order_core.model import Delivery, Item, Order, Payment
from order_core.order_id import check_order_uid, order_uid_problem
from order_core.ports import (
    DeadLetterArchive,
    EncodedOrder,
    NoTelemetry,
    OrderCache,
    OrderRepository,
    SavedDocument,
    SaveResult,
    Telemetry,
)
from order_core.schema import MAX_ORDER_UID_LENGTH

__all__ = [
    "MAX_ORDER_UID_LENGTH",
    "Answer",
    "CacheAdmin",
    "CacheGateway",
    "CacheThenRepository",
    "CacheUnavailable",
    "CircuitBreaker",
    "CustomerOrders",
    "DeadLetter",
    "DeadLetterArchive",
    "DeadLetterId",
    "DeadLettersUnavailable",
    "Delivery",
    "EncodedOrder",
    "FieldError",
    "IngestResult",
    "InvalidOrder",
    "InvalidOrderId",
    "InvalidPageRequest",
    "Item",
    "NoTelemetry",
    "Order",
    "OrderCache",
    "OrderPage",
    "OrderRepository",
    "Payment",
    "Rejected",
    "RejectedByRepository",
    "RepositoryFailed",
    "RepositoryUnavailable",
    "SaveResult",
    "SaveThenCache",
    "SavedDocument",
    "Telemetry",
    "by_time",
    "check_order_uid",
    "decode_order",
    "encode_order",
    "latest_by_time",
    "merged_by_time",
    "order_uid_problem",
    "stub_refusal",
    "utc_time",
]
