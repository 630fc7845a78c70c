"""The table layout derived from the model: every scalar field a column, typed from its
bound; a field of a kind the layout does not know is refused, never left out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import attrs
import msgspec
import pytest

from adapters.postgres.rows import TABLES, scalar_columns
from order_core import Delivery, Item, Order, Payment
from order_core.schema import Amount, Percent, Status, Text


def test_every_scalar_field_of_the_model_is_a_column() -> None:
    nested = {"delivery", "payment", "items"}
    for table, model in (
        ("orders", Order),
        ("deliveries", Delivery),
        ("payments", Payment),
        ("items", Item),
    ):
        columns = {name for name, _ in TABLES[table]}
        assert {f.name for f in attrs.fields(model)} - nested <= columns, table


def test_column_types_follow_the_bounds() -> None:
    @attrs.frozen
    class Kinds:
        text: Text
        small: Percent
        medium: Status
        large: Amount
        moment: datetime
        unbounded: int

    assert scalar_columns(Kinds) == (
        ("text", "text"),
        ("small", "int4"),
        ("medium", "int4"),
        ("large", "int8"),
        ("moment", "timestamptz"),
        ("unbounded", "int8"),
    )


@pytest.mark.parametrize("hint", [bool, float, Text | None, Annotated[bytes, msgspec.Meta()]])
def test_a_field_of_an_unknown_kind_is_refused_not_left_out(hint: Any) -> None:
    Strange = attrs.make_class("Strange", {"field": attrs.field(type=hint)})
    with pytest.raises(TypeError, match=r"Strange.field: no column type"):
        scalar_columns(Strange)
