"""Building blocks of the OpenAPI document: schemas and responses in one shape each."""

from __future__ import annotations

from typing import Any

TEXT = {"type": "string"}
NULLABLE_INT = {"type": ["integer", "null"]}


def obj(properties: dict[str, Any], required: bool = True) -> dict[str, Any]:
    """An object schema; every property required unless told."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(properties)
    return schema


def json_content(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def error(description: str) -> dict[str, Any]:
    return json_content(description, ref("Error"))


def unavailable(description: str) -> dict[str, Any]:
    """A 503 with Retry-After."""
    return {**error(description), "headers": {"Retry-After": {"schema": TEXT}}}


ADMIN: dict[str, Any] = {"security": [{"adminToken": []}]}
ADMIN_ERRORS = {
    "401": error("No or wrong bearer token (code unauthorized)"),
    "404": error("Admin endpoints are disabled: no admin token is set (code not_found)"),
}
