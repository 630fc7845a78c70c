"""The OpenAPI description of the list endpoints: a customer's orders, the dead letters."""

from __future__ import annotations

from typing import Any

from entrypoints.http.dead_letters import DEFAULT_LIMIT, MAX_LIMIT
from entrypoints.http.openapi_parts import (
    ADMIN,
    ADMIN_ERRORS,
    NULLABLE_INT,
    TEXT,
    error,
    json_content,
    obj,
    ref,
    unavailable,
)
from order_core.customer_orders import CURSOR_PATTERN, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from order_core.schema import MAX_TEXT_LENGTH

_CUSTOMER_PAGE = obj(
    {
        "customer_id": TEXT,
        "orders": {"type": "array", "items": ref("Order"), "maxItems": MAX_PAGE_SIZE},
        "next": {
            "anyOf": [{"type": "string", "pattern": CURSOR_PATTERN}, {"type": "null"}],
            "description": "send it as 'after' for the next page; null on the last page",
        },
    }
)
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_DEAD_LETTER = obj(
    {
        "offset": {"type": "integer", "minimum": 0},
        "dead_lettered_at": _NULLABLE_TIME,
        "reason": {**TEXT, "description": "why it was set aside: plain text, show it as text"},
        "source": obj(
            {
                "topic": {"type": ["string", "null"]},
                "partition": NULLABLE_INT,
                "offset": NULLABLE_INT,
                "written_at": _NULLABLE_TIME,
            }
        ),
        "stub": {"type": "boolean", "description": "the original was too large to keep"},
        "replay_of": {**NULLABLE_INT, "description": "the dead letter this one replayed"},
        "original_bytes": NULLABLE_INT,
    }
)
_DEAD_LETTERS = obj(
    {
        "topic": TEXT,
        "first_offset": {"type": "integer", "minimum": 0},
        "next_offset": {"type": "integer", "minimum": 0},
        "dead_letters": {"type": "array", "items": ref("DeadLetter")},
    }
)

# What a client (and a stateful fuzzer) can do next with a page.
_PAGE_LINKS = {
    "NextPage": {
        "operationId": "listCustomerOrders",
        "parameters": {
            "customer_id": "$request.query.customer_id",
            "after": "$response.body#/next",
        },
    },
    "FirstOrder": {
        "operationId": "getOrder",
        "parameters": {"order_uid": "$response.body#/orders/0/order_uid"},
    },
}

LIST_SCHEMAS = {"DeadLetter": _DEAD_LETTER}

LIST_PATHS: dict[str, Any] = {
    "/orders": {
        "get": {
            "summary": "A customer's orders, newest first, a page at a time",
            "operationId": "listCustomerOrders",
            "parameters": [
                {
                    "name": "customer_id",
                    "in": "query",
                    "required": True,
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_TEXT_LENGTH,
                        "pattern": "^[^\\u0000]*$",
                    },
                    "example": "test",
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_PAGE_SIZE,
                        "default": DEFAULT_PAGE_SIZE,
                    },
                },
                {
                    "name": "after",
                    "in": "query",
                    "description": "the 'next' cursor of the previous page, as it came",
                    "schema": {"type": "string", "pattern": CURSOR_PATTERN},
                },
            ],
            "responses": {
                "200": {
                    **json_content("One page of the customer's orders", _CUSTOMER_PAGE),
                    "headers": {"Cache-Control": {"schema": TEXT}},
                    "links": _PAGE_LINKS,
                },
                "400": error(
                    "Bad parameters (codes missing_customer_id, invalid_customer_id,"
                    " invalid_limit, invalid_cursor)"
                ),
                "503": unavailable("The store is unavailable (code unavailable)"),
            },
        }
    },
    "/admin/dead-letters": {
        "get": {
            "summary": "The latest dead letters, newest first (read-only)",
            "operationId": "listDeadLetters",
            **ADMIN,
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_LIMIT,
                        "default": DEFAULT_LIMIT,
                    },
                }
            ],
            "responses": {
                "200": json_content("The dead letters", _DEAD_LETTERS),
                "400": error(
                    f"'limit' is not a whole number from 1 to {MAX_LIMIT} (code bad_request)"
                ),
                **ADMIN_ERRORS,
                "503": unavailable("Kafka cannot be read now (code unavailable)"),
            },
        }
    },
}
