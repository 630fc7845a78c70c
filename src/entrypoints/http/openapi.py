"""The OpenAPI 3.1 description of the HTTP API, served at /openapi.json.

Every schema is generated (``msgspec.json.schema_components``): the order's from the model
itself, which carries the bounds that validate incoming orders, and every other body's from
the struct its handler answers with (``bodies.py``). What is written here is the table of
operations: their parameters, statuses and headers.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from entrypoints.http.bodies import BODIES
from entrypoints.http.dead_letters import DEFAULT_LIMIT, MAX_LIMIT
from order_core.customer_orders import CURSOR_PATTERN, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from order_core.schema import MAX_TEXT_LENGTH, OrderUid


def _ecma(schema: Any) -> Any:
    """JSON Schema patterns are ECMA-262: Python's end-of-text anchor ``\\Z`` is ``$`` there
    (where ``$`` cannot match before a final newline, as it can in Python)."""
    if isinstance(schema, dict):
        return {k: v.replace("\\Z", "$") if k == "pattern" else _ecma(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_ecma(v) for v in schema]
    return schema


SCHEMAS = _ecma(
    msgspec.json.schema_components(BODIES, ref_template="#/components/schemas/{name}")[1]
)
ID_SCHEMA = _ecma(msgspec.json.schema(OrderUid))
ID_EXAMPLE = "b563feb7b2b84b6test"  # the sample's (examples/sample-order.json)
TEXT = {"type": "string"}


def _ref(name: str) -> dict[str, str]:
    assert name in SCHEMAS, name  # only bodies that exist
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, body: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(body)}}}


def _error(description: str) -> dict[str, Any]:
    return _json(description, "Error")


def _unavailable(description: str) -> dict[str, Any]:
    """A 503 with Retry-After."""
    return {**_error(description), "headers": {"Retry-After": {"schema": TEXT}}}


def _integer(low: int, high: int | None = None, default: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": low}
    if high is not None:
        schema["maximum"] = high
    if default is not None:
        schema["default"] = default
    return schema


_ADMIN: dict[str, Any] = {"security": [{"adminToken": []}]}
_ADMIN_ERRORS = {
    "401": _error("No or wrong bearer token (code unauthorized)"),
    "404": _error("Admin endpoints are disabled: no admin token is set (code not_found)"),
}
_ORDER_RESPONSES = {
    "200": {
        **_json("The order, as stored", "Order"),
        "headers": {"ETag": {"schema": TEXT}, "Cache-Control": {"schema": TEXT}},
    },
    "304": {"description": "Not modified (If-None-Match matched the ETag)"},
    "400": _error("Missing or malformed order id (codes missing_id, invalid_id)"),
    "404": _error("No order with this id (code not_found)"),
    "503": _unavailable("The order is not cached and the store is unavailable (code unavailable)"),
}
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


def _get(operation_id: str, summary: str, responses: dict[str, Any], **more: Any) -> Any:
    return {
        "get": {"summary": summary, "operationId": operation_id, **more, "responses": responses}
    }


def _id_parameter(name: str, where: str) -> dict[str, Any]:
    return {"name": name, "in": where, "required": True, "schema": ID_SCHEMA, "example": ID_EXAMPLE}


PATHS: dict[str, Any] = {
    "/order": _get(
        "getOrderByQuery",
        "Look an order up by id (query form)",
        _ORDER_RESPONSES,
        parameters=[_id_parameter("id", "query")],
    ),
    "/orders/{order_uid}": _get(
        "getOrder",
        "Look an order up by id (path form)",
        _ORDER_RESPONSES,
        parameters=[_id_parameter("order_uid", "path")],
    ),
    "/orders": _get(
        "listCustomerOrders",
        "A customer's orders, newest first, a page at a time",
        {
            "200": {
                **_json("One page of the customer's orders", "CustomerPage"),
                "headers": {"Cache-Control": {"schema": TEXT}},
                "links": _PAGE_LINKS,
            },
            "400": _error(
                "Bad parameters (codes missing_customer_id, invalid_customer_id,"
                " invalid_limit, invalid_cursor)"
            ),
            "503": _unavailable("The store is unavailable (code unavailable)"),
        },
        parameters=[
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
                "schema": _integer(1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE),
            },
            {
                "name": "after",
                "in": "query",
                "description": "the 'next' cursor of the previous page, as it came",
                "schema": {"type": "string", "pattern": CURSOR_PATTERN},
            },
        ],
    ),
    "/": _get(
        "webPage",
        "The web page (look an order up)",
        {"200": {"description": "HTML", "content": {"text/html": {}}}},
    ),
    "/openapi.json": _get(
        "openApi",
        "This document",
        {
            "200": {
                "description": "OpenAPI 3.1",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    ),
    "/healthz": _get(
        "healthz",
        "Liveness: 503 only when a restart is the cure (the consumer died)",
        {"200": _json("Alive", "Health"), "503": _json("Failing", "Health")},
    ),
    "/readyz": _get(
        "readyz",
        "Readiness: the store answers, the consumer runs and makes progress",
        {
            "200": _json("Ready", "Readiness"),
            "503": _json("Not ready; checks say why", "Readiness"),
        },
    ),
    "/metrics": _get(
        "metrics",
        "Prometheus metrics",
        {"200": {"description": "Text exposition", "content": {"text/plain": {}}}},
    ),
    "/admin/cache/reset": {
        "post": {
            "summary": "Drop every cached order (no data is lost)",
            "operationId": "resetCache",
            **_ADMIN,
            "responses": {
                "200": _json("Done", "CacheReset"),
                **_ADMIN_ERRORS,
                "503": _error("The cache is unavailable (code unavailable)"),
            },
        }
    },
    "/admin/cache/warm": {
        "post": {
            "summary": "Load the most recent orders into the cache",
            "operationId": "warmCache",
            **_ADMIN,
            "parameters": [{"name": "limit", "in": "query", "schema": _integer(0)}],
            "responses": {
                "200": _json("Done", "CacheWarmed"),
                "400": _error("'limit' is not a whole number (code bad_request)"),
                **_ADMIN_ERRORS,
                "503": _error("The cache or the store is unavailable (code unavailable)"),
            },
        }
    },
    "/admin/dead-letters": _get(
        "listDeadLetters",
        "The latest dead letters of every partition, newest first (read-only)",
        {
            "200": _json("The dead letters", "DeadLetters"),
            "400": _error(
                f"'limit' is not a whole number from 1 to {MAX_LIMIT} (code bad_request)"
            ),
            **_ADMIN_ERRORS,
            "503": _unavailable("Kafka cannot be read now (code unavailable)"),
        },
        **_ADMIN,
        parameters=[
            {"name": "limit", "in": "query", "schema": _integer(1, MAX_LIMIT, DEFAULT_LIMIT)}
        ],
    ),
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "order-service",
        "version": "0.2.0",
        "description": "Orders consumed from Kafka, stored in PostgreSQL, served from a cache.",
    },
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
    },
}


async def openapi_json(request: Request) -> Response:
    return JSONResponse(SPEC)
