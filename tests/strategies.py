"""Hypothesis strategies for orders, derived from the model's own schema.

Every field's strategy is read off its annotation (the bounds of ``order_core.schema``),
so the generated orders cover exactly the valid space, and ``extreme_orders`` pushes every
field to its limits (longest strings of any Unicode, boundary integers, edge dates).
"""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import msgspec
from hypothesis import strategies as st

from order_core import Order
from order_core.schema import EARLIEST, LATEST

ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
# Any character JSON can carry and PostgreSQL text can hold: no NUL, no lone surrogates.
CHARACTERS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")

time_zones = st.builds(
    lambda minutes: UTC if minutes == 0 else timezone(timedelta(minutes=minutes)),
    st.integers(min_value=-12 * 60, max_value=14 * 60),
)
aware_datetimes = st.builds(
    lambda instant, zone: instant.replace(tzinfo=UTC).astimezone(zone),
    st.datetimes(min_value=EARLIEST.replace(tzinfo=None), max_value=LATEST.replace(tzinfo=None)),
    time_zones,
)


def _split(hint: Any) -> tuple[Any, list[msgspec.Meta]]:
    if typing.get_origin(hint) is typing.Annotated:
        base, *metas = typing.get_args(hint)
        return base, [m for m in metas if isinstance(m, msgspec.Meta)]
    return hint, []


def _meta(metas: list[msgspec.Meta], name: str) -> Any:
    return next((getattr(m, name) for m in metas if getattr(m, name) is not None), None)


def for_type(hint: Any, *, extreme: bool = False, max_items: int = 4) -> st.SearchStrategy[Any]:
    """A strategy for values of an annotated field type, within its bounds."""
    base, metas = _split(hint)
    if attrs.has(base):
        hints = typing.get_type_hints(base, include_extras=True)
        fields = {
            f.name: for_type(hints[f.name], extreme=extreme, max_items=max_items)
            for f in attrs.fields(base)
        }
        return st.builds(base, **fields)
    if typing.get_origin(base) is tuple:
        element = for_type(typing.get_args(base)[0], extreme=extreme, max_items=max_items)
        low = _meta(metas, "min_length") or 0
        high = min(_meta(metas, "max_length") or max_items, max_items)
        return st.lists(element, min_size=low, max_size=high).map(tuple)
    if base is str:
        low = _meta(metas, "min_length") or 0
        high = _meta(metas, "max_length")
        if _meta(metas, "pattern") is not None:  # the order id
            ids = st.text(ID_ALPHABET, min_size=max(low, 1), max_size=high)
            return ids.filter(lambda t: t not in (".", ".."))
        if extreme:
            # The small branch first: it is what Hypothesis shrinks towards.
            return st.one_of(
                st.text(CHARACTERS, min_size=low, max_size=8),
                st.text(CHARACTERS, min_size=high, max_size=high),
            )
        return st.text(CHARACTERS, min_size=low, max_size=min(high, 30))
    if base is int:
        low, high = _meta(metas, "ge"), _meta(metas, "le")
        if extreme:
            return st.one_of(st.integers(low, high), st.sampled_from([low, high]))
        return st.integers(low, high)
    if base is datetime:
        if extreme:
            return st.one_of(aware_datetimes, st.sampled_from([EARLIEST, LATEST]))
        return aware_datetimes
    raise TypeError(f"no strategy for {hint!r}")


def orders(uids: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Order]:
    """Valid orders of every shape (1 to 4 items)."""
    strategy = for_type(Order)
    if uids is None:
        return strategy
    return st.builds(attrs.evolve, strategy, order_uid=uids)


def extreme_orders(max_items: int = 20) -> st.SearchStrategy[Order]:
    """Valid orders pushed to their limits."""
    return for_type(Order, extreme=True, max_items=max_items)


order_uids = st.text(ID_ALPHABET, min_size=1, max_size=64).filter(lambda t: t not in (".", ".."))
