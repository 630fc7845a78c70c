"""The OpenAPI 3.1 description of the HTTP API, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from order_core import MAX_ORDER_UID_LENGTH

_ID_SCHEMA = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9_.\-]+$",
    "minLength": 1,
    "maxLength": MAX_ORDER_UID_LENGTH,
}
_TEXT = {"type": "string"}
_INT = {"type": "integer", "minimum": 0}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(properties), "properties": properties}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


_ORDER_RESPONSES = {
    "200": {
        "description": "The order, in the shape it arrived in",
        "headers": {"ETag": {"schema": _TEXT}, "Cache-Control": {"schema": _TEXT}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}},
    },
    "304": {"description": "Not modified (If-None-Match matched the ETag)"},
    "400": _error("Missing or malformed order id (codes missing_id, invalid_id)"),
    "404": _error("No order with this id (code not_found)"),
    "503": _error("The order store is unavailable and the order is not cached (code unavailable)"),
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "order-service",
        "version": "0.1.0",
        "description": "Orders consumed from Kafka, stored in PostgreSQL, served from a cache.",
    },
    "paths": {
        "/order": {
            "get": {
                "summary": "Look an order up by id (query form)",
                "operationId": "getOrderByQuery",
                "parameters": [
                    {"name": "id", "in": "query", "required": True, "schema": _ID_SCHEMA}
                ],
                "responses": _ORDER_RESPONSES,
            }
        },
        "/orders/{order_uid}": {
            "get": {
                "summary": "Look an order up by id (path form)",
                "operationId": "getOrder",
                "parameters": [
                    {"name": "order_uid", "in": "path", "required": True, "schema": _ID_SCHEMA}
                ],
                "responses": _ORDER_RESPONSES,
            }
        },
    },
    "components": {
        "schemas": {
            "Error": _object({"error": _object({"code": _TEXT, "message": _TEXT})}),
            "Delivery": _object(
                dict.fromkeys(("name", "phone", "zip", "city", "address", "region", "email"), _TEXT)
            ),
            "Payment": _object(
                {
                    "transaction": _TEXT,
                    "request_id": _TEXT,
                    "currency": _TEXT,
                    "provider": _TEXT,
                    "amount": _INT,
                    "payment_dt": _INT,
                    "bank": _TEXT,
                    "delivery_cost": _INT,
                    "goods_total": _INT,
                    "custom_fee": _INT,
                }
            ),
            "Item": _object(
                {
                    "chrt_id": _INT,
                    "track_number": _TEXT,
                    "price": _INT,
                    "rid": _TEXT,
                    "name": _TEXT,
                    "sale": {"type": "integer", "minimum": 0, "maximum": 100},
                    "size": _TEXT,
                    "total_price": _INT,
                    "nm_id": _INT,
                    "brand": _TEXT,
                    "status": _INT,
                }
            ),
            "Order": _object(
                {
                    "order_uid": _ID_SCHEMA,
                    "track_number": _TEXT,
                    "entry": _TEXT,
                    "delivery": {"$ref": "#/components/schemas/Delivery"},
                    "payment": {"$ref": "#/components/schemas/Payment"},
                    "items": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"$ref": "#/components/schemas/Item"},
                    },
                    "locale": _TEXT,
                    "internal_signature": _TEXT,
                    "customer_id": _TEXT,
                    "delivery_service": _TEXT,
                    "shardkey": _TEXT,
                    "sm_id": _INT,
                    "date_created": {"type": "string", "format": "date-time"},
                    "oof_shard": _TEXT,
                }
            ),
        }
    },
}


async def openapi_json(request: Request) -> Response:
    return JSONResponse(SPEC)
