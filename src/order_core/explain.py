"""Say everything that is wrong with decoded JSON as an order, field by field.

It walks the model's classes and checks each value against the field's annotated type
with msgspec itself, so its verdict is the fast decoder's, with every problem and its
path (``payment.amount``, ``items[2].price``) instead of only the first. The list is
capped: a dead-letter record must stay small whatever the message holds.
"""

from __future__ import annotations

import typing
from datetime import datetime
from typing import Any

import attrs
import msgspec

from order_core.errors import FieldError
from order_core.model import Order
from order_core.schema import PERSONAL, timestamp_problem

MAX_PROBLEMS = 20
_SHOWN_VALUE_CHARS = 40

_KINDS = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}


def explain(data: object, model: type = Order) -> list[FieldError]:
    """Every problem (at most MAX_PROBLEMS, then a last one saying more were left out)."""
    problems: list[FieldError] = []
    try:
        _check(data, model, "", problems)
    except _Enough:
        problems.append(FieldError("", f"more problems not listed (first {MAX_PROBLEMS} shown)"))
    return problems


class _Enough(Exception):
    pass


def _add(problems: list[FieldError], path: str, reason: str) -> None:
    if len(problems) >= MAX_PROBLEMS:
        raise _Enough
    problems.append(FieldError(path, reason))


def _check(value: object, hint: Any, path: str, problems: list[FieldError]) -> None:
    base = _unannotated(hint)
    if attrs.has(base):
        _check_object(value, base, path, problems)
    elif typing.get_origin(base) is tuple:
        _check_array(value, hint, path, problems)
    else:
        _check_leaf(value, hint, path, problems)


def _check_object(value: object, cls: type, path: str, problems: list[FieldError]) -> None:
    if not isinstance(value, dict):
        _add(problems, path, f"must be an object, got {_kind(value)}")
        return
    for name, hint in _field_hints(cls).items():
        child = f"{path}.{name}" if path else name
        if name not in value:
            _add(problems, child, "is required")
        else:
            _check(value[name], hint, child, problems)


def _check_array(value: object, hint: Any, path: str, problems: list[FieldError]) -> None:
    if not isinstance(value, list):
        _add(problems, path, f"must be an array, got {_kind(value)}")
        return
    for meta in typing.get_args(hint)[1:]:
        if meta.min_length is not None and len(value) < meta.min_length:
            _add(problems, path, f"must hold at least {meta.min_length} item(s)")
        if meta.max_length is not None and len(value) > meta.max_length:
            _add(problems, path, f"must hold at most {meta.max_length} items, got {len(value)}")
    element = typing.get_args(_unannotated(hint))[0]
    for index, item in enumerate(value):
        _check(item, element, f"{path}[{index}]", problems)


def _check_leaf(value: object, hint: Any, path: str, problems: list[FieldError]) -> None:
    try:
        converted = msgspec.convert(value, hint)
    except msgspec.ValidationError as exc:
        reason = str(exc)
        if _personal(hint):
            # The rule and the kind of value, never the value: it is a person's data.
            rule = reason.split(", got ", 1)[0]
            reason = f"{rule} (got {_kind(value)}; personal data, not shown)"
        elif "got" not in reason:
            reason += f", got {_shown(value)}"
        _add(problems, path, reason)
        return
    if isinstance(converted, str) and "\x00" in converted:
        _add(problems, path, "must not contain NUL characters")
    elif isinstance(converted, datetime) and (problem := timestamp_problem(converted)):
        _add(problems, path, problem)


def _personal(hint: Any) -> bool:
    if typing.get_origin(hint) is not typing.Annotated:
        return False
    metas = typing.get_args(hint)[1:]
    return any(isinstance(m, msgspec.Meta) and (m.extra or {}).get(PERSONAL) for m in metas)


def _unannotated(hint: Any) -> Any:
    """``Annotated[T, ...]`` -> ``T``; any other hint as it is."""
    return typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint


_HINTS: dict[type, dict[str, Any]] = {}


def _field_hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        resolved = typing.get_type_hints(cls, include_extras=True)
        hints = _HINTS[cls] = {f.name: resolved[f.name] for f in attrs.fields(cls)}
    return hints


def _kind(value: object) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_VALUE_CHARS else text[:_SHOWN_VALUE_CHARS] + "…"
