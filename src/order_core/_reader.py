"""Reads typed fields out of decoded JSON, collecting every problem with its path."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from order_core.errors import FieldError

# Every integer is stored in a PostgreSQL bigint; a larger one would fail the whole batch's
# transaction later, so it is refused here, where the message can be dead-lettered instead.
MAX_INT = 2**63 - 1


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class FieldReader:
    """Wraps one JSON object; each getter returns a value or records why it cannot."""

    def __init__(self, data: object, path: str, errors: list[FieldError]) -> None:
        self.path = path
        self.errors = errors
        self.valid = isinstance(data, Mapping)
        self.data: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        if not self.valid:
            errors.append(FieldError(path, f"must be an object, got {_kind(data)}"))

    def fail(self, key: str, reason: str) -> None:
        self.errors.append(FieldError(_join(self.path, key), reason))

    def child_path(self, key: str) -> str:
        return _join(self.path, key)

    def raw(self, key: str) -> tuple[bool, Any]:
        if key not in self.data:
            if self.valid:
                self.fail(key, "is required")
            return False, None
        return True, self.data[key]

    def string(self, key: str, *, required: bool = False) -> str:
        present, value = self.raw(key)
        if not present:
            return ""
        if not isinstance(value, str):
            self.fail(key, f"must be a string, got {_kind(value)}")
            return ""
        if required and not value:
            self.fail(key, "must not be empty")
        # PostgreSQL text cannot hold NUL; such a value would fail the batch at save time.
        text: str = value
        if "\x00" in text:
            self.fail(key, "must not contain NUL characters")
        return text

    def integer(self, key: str, *, minimum: int = 0, maximum: int = MAX_INT) -> int:
        present, value = self.raw(key)
        if not present:
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"must be an integer, got {_kind(value)}")
            return 0
        if value < minimum:
            self.fail(key, f"must be at least {minimum}, got {value}")
        elif value > maximum:
            self.fail(key, f"must be at most {maximum}, got {value}")
        return value

    def timestamp(self, key: str) -> datetime:
        fallback = datetime.fromtimestamp(0).astimezone()
        text = self.string(key, required=True)
        if not text:
            return fallback
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            self.fail(key, f"must be an ISO 8601 date-time, got {text!r}")
            return fallback
        if value.tzinfo is None or value.utcoffset() is None:
            self.fail(key, "must carry a time zone (such as 'Z' or '+03:00')")
            return fallback
        return value

    def array(self, key: str) -> list[Any]:
        present, value = self.raw(key)
        if not present:
            return []
        if not isinstance(value, list):
            self.fail(key, f"must be an array, got {_kind(value)}")
            return []
        return value


def _kind(value: object) -> str:
    names = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)
