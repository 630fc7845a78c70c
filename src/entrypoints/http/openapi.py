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

from order_core import Order
from order_core.schema import OrderUid

_, ORDER_SCHEMAS = msgspec.json.schema_components(
    [Order], ref_template="#/components/schemas/{name}"
)
ID_SCHEMA = msgspec.json.schema(OrderUid)
_TEXT = {"type": "string"}


def _object(properties: dict[str, Any], required: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(properties)
    return schema


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error(description: str) -> dict[str, Any]:
    return _json(description, {"$ref": "#/components/schemas/Error"})


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_ORDER_RESPONSES = {
    "200": {
        **_json("The order, as stored", _ref("Order")),
        "headers": {"ETag": {"schema": _TEXT}, "Cache-Control": {"schema": _TEXT}},
    },
    "304": {"description": "Not modified (If-None-Match matched the ETag)"},
    "400": error("Missing or malformed order id (codes missing_id, invalid_id)"),
    "404": error("No order with this id (code not_found)"),
    "503": {
        **error("The order is not cached and the store is unavailable (code unavailable)"),
        "headers": {"Retry-After": {"schema": _TEXT}},
    },
}
_ADMIN: dict[str, Any] = {"security": [{"adminToken": []}]}
_ADMIN_ERRORS = {
    "401": error("No or wrong bearer token (code unauthorized)"),
    "404": error("Admin endpoints are disabled: no admin token is set (code not_found)"),
}
_HEALTH = _object({"status": {"enum": ["ok", "failing"]}, "checks": {"type": "object"}}, False)
_READINESS = _object(
    {"ready": {"type": "boolean"}, "checks": {"additionalProperties": _TEXT, "type": "object"}}
)

PATHS: dict[str, Any] = {
    "/order": {
        "get": {
            "summary": "Look an order up by id (query form)",
            "operationId": "getOrderByQuery",
            "parameters": [{"name": "id", "in": "query", "required": True, "schema": ID_SCHEMA}],
            "responses": _ORDER_RESPONSES,
        }
    },
    "/orders/{order_uid}": {
        "get": {
            "summary": "Look an order up by id (path form)",
            "operationId": "getOrder",
            "parameters": [
                {"name": "order_uid", "in": "path", "required": True, "schema": ID_SCHEMA}
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
            "responses": {"200": _json("OpenAPI 3.1", {"type": "object"})},
        }
    },
    "/healthz": {
        "get": {
            "summary": "Liveness: 503 only when a restart is the cure (the consumer died)",
            "operationId": "healthz",
            "responses": {"200": _json("Alive", _HEALTH), "503": _json("Failing", _HEALTH)},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: the store answers, the consumer runs and makes progress",
            "operationId": "readyz",
            "responses": {
                "200": _json("Ready", _READINESS),
                "503": _json("Not ready; checks say why", _READINESS),
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
            **_ADMIN,
            "responses": {
                "200": _json("Done", _object({"reset": {"type": "boolean"}})),
                **_ADMIN_ERRORS,
                "503": error("The cache is unavailable (code unavailable)"),
            },
        }
    },
    "/admin/cache/warm": {
        "post": {
            "summary": "Load the most recent orders into the cache",
            "operationId": "warmCache",
            **_ADMIN,
            "parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0}}
            ],
            "responses": {
                "200": _json("Done", _object({"loaded": {"type": "integer", "minimum": 0}})),
                "400": error("'limit' is not a whole number (code bad_request)"),
                **_ADMIN_ERRORS,
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
    "paths": PATHS,
    "components": {
        "schemas": {
            "Error": _object({"error": _object({"code": _TEXT, "message": _TEXT})}),
            **ORDER_SCHEMAS,
        },
        "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
    },
}


async def openapi_json(request: Request) -> Response:
    return JSONResponse(SPEC)
