"""The OpenAPI 3.1 description of the HTTP API, served at /openapi.json.

The order's schemas are generated from the model itself (``msgspec.json.schema_components``
reads the same annotated bounds that validate incoming orders), so the API document can
never disagree with validation.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from entrypoints.http.openapi_lists import LIST_PATHS, LIST_SCHEMAS
from entrypoints.http.openapi_parts import (
    ADMIN,
    ADMIN_ERRORS,
    TEXT,
    error,
    json_content,
    obj,
    ref,
    unavailable,
)
from order_core import Order
from order_core.schema import OrderUid


def _ecma(schema: Any) -> Any:
    """JSON Schema patterns are ECMA-262: Python's end-of-text anchor ``\\Z`` is ``$`` there
    (where ``$`` cannot match before a final newline, as it can in Python)."""
    if isinstance(schema, dict):
        return {k: v.replace("\\Z", "$") if k == "pattern" else _ecma(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_ecma(v) for v in schema]
    return schema


ORDER_SCHEMAS = _ecma(
    msgspec.json.schema_components([Order], ref_template="#/components/schemas/{name}")[1]
)
ID_SCHEMA = _ecma(msgspec.json.schema(OrderUid))
ID_EXAMPLE = "b563feb7b2b84b6test"  # the sample's (examples/sample-order.json)

_ORDER_RESPONSES = {
    "200": {
        **json_content("The order, as stored", ref("Order")),
        "headers": {"ETag": {"schema": TEXT}, "Cache-Control": {"schema": TEXT}},
    },
    "304": {"description": "Not modified (If-None-Match matched the ETag)"},
    "400": error("Missing or malformed order id (codes missing_id, invalid_id)"),
    "404": error("No order with this id (code not_found)"),
    "503": unavailable("The order is not cached and the store is unavailable (code unavailable)"),
}
_HEALTH = obj({"status": {"enum": ["ok", "failing"]}, "checks": {"type": "object"}}, False)
_READINESS = obj(
    {"ready": {"type": "boolean"}, "checks": {"additionalProperties": TEXT, "type": "object"}}
)

PATHS: dict[str, Any] = {
    "/order": {
        "get": {
            "summary": "Look an order up by id (query form)",
            "operationId": "getOrderByQuery",
            "parameters": [
                {
                    "name": "id",
                    "in": "query",
                    "required": True,
                    "schema": ID_SCHEMA,
                    "example": ID_EXAMPLE,
                }
            ],
            "responses": _ORDER_RESPONSES,
        }
    },
    "/orders/{order_uid}": {
        "get": {
            "summary": "Look an order up by id (path form)",
            "operationId": "getOrder",
            "parameters": [
                {
                    "name": "order_uid",
                    "in": "path",
                    "required": True,
                    "schema": ID_SCHEMA,
                    "example": ID_EXAMPLE,
                }
            ],
            "responses": _ORDER_RESPONSES,
        }
    },
    "/": {
        "get": {
            "summary": "The web page (look an order up)",
            "operationId": "webPage",
            "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "operationId": "openApi",
            "responses": {"200": json_content("OpenAPI 3.1", {"type": "object"})},
        }
    },
    "/healthz": {
        "get": {
            "summary": "Liveness: 503 only when a restart is the cure (the consumer died)",
            "operationId": "healthz",
            "responses": {
                "200": json_content("Alive", _HEALTH),
                "503": json_content("Failing", _HEALTH),
            },
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: the store answers, the consumer runs and makes progress",
            "operationId": "readyz",
            "responses": {
                "200": json_content("Ready", _READINESS),
                "503": json_content("Not ready; checks say why", _READINESS),
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics",
            "operationId": "metrics",
            "responses": {"200": {"description": "Text exposition", "content": {"text/plain": {}}}},
        }
    },
    "/admin/cache/reset": {
        "post": {
            "summary": "Drop every cached order (no data is lost)",
            "operationId": "resetCache",
            **ADMIN,
            "responses": {
                "200": json_content("Done", obj({"reset": {"type": "boolean"}})),
                **ADMIN_ERRORS,
                "503": error("The cache is unavailable (code unavailable)"),
            },
        }
    },
    "/admin/cache/warm": {
        "post": {
            "summary": "Load the most recent orders into the cache",
            "operationId": "warmCache",
            **ADMIN,
            "parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0}}
            ],
            "responses": {
                "200": json_content("Done", obj({"loaded": {"type": "integer", "minimum": 0}})),
                "400": error("'limit' is not a whole number (code bad_request)"),
                **ADMIN_ERRORS,
                "503": error("The cache or the store is unavailable (code unavailable)"),
            },
        }
    },
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "order-service",
        "version": "0.2.0",
        "description": "Orders consumed from Kafka, stored in PostgreSQL, served from a cache.",
    },
    "paths": {**PATHS, **LIST_PATHS},
    "components": {
        "schemas": {
            "Error": obj({"error": obj({"code": TEXT, "message": TEXT})}),
            **LIST_SCHEMAS,
            **ORDER_SCHEMAS,
        },
        "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
    },
}


async def openapi_json(request: Request) -> Response:
    return JSONResponse(SPEC)
