"""A person's data never reaches a rejection reason (and so never a log line or a
dead-letter header): the reason names the field and the rule it broke, and quotes a value
only for fields that hold no personal data."""

from __future__ import annotations

import logging
import typing
from typing import Any

import attrs
import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from order_core import CacheGateway, Delivery, Item, Order, Payment, SaveThenCache
from order_core.schema import PERSONAL
from tests.conftest import SAMPLE_PATH
from tests.fakes import FakeCache, FakeRepository

MARKER = "Pz7qMarker"
SAMPLE = orjson.loads(SAMPLE_PATH.read_bytes())
NESTED = {Order: None, Delivery: "delivery", Payment: "payment", Item: "items"}


def _personal_fields() -> list[tuple[str | None, str]]:
    """(where, field) of every field the model marks as a person's data."""
    found = []
    for model, where in NESTED.items():
        hints = typing.get_type_hints(model, include_extras=True)
        for field in attrs.fields(model):
            metas = typing.get_args(hints[field.name])[1:]
            if any(isinstance(m, msgspec.Meta) and (m.extra or {}).get(PERSONAL) for m in metas):
                found.append((where, field.name))
    return found


PERSONAL_FIELDS = _personal_fields()

# Values a field of text refuses, each carrying the marker.
refused_values = st.one_of(
    st.text(min_size=256, max_size=400).map(lambda tail: MARKER + tail),  # too long
    st.text(max_size=20).map(lambda text: f"{MARKER}\x00{text}"),  # a NUL
    st.lists(st.just(MARKER), min_size=1, max_size=3),  # not text at all
    st.dictionaries(st.just(MARKER), st.just(MARKER), min_size=1),
    st.just({"nested": [MARKER]}),
)


def test_the_model_marks_the_delivery_as_personal() -> None:
    assert {field for where, field in PERSONAL_FIELDS if where == "delivery"} == {
        f.name for f in attrs.fields(Delivery)
    }


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    broken=st.lists(
        st.tuples(st.sampled_from(PERSONAL_FIELDS), refused_values), min_size=1, max_size=4
    ),
    fine_marker=st.booleans(),
)
def test_no_personal_value_is_ever_in_a_reason_or_a_log_line(
    broken: list[tuple[tuple[str | None, str], Any]],
    fine_marker: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every personal field may also hold the marker validly: only its rule is named."""
    message: dict[str, Any] = orjson.loads(orjson.dumps(SAMPLE))
    if fine_marker:
        for where, field in PERSONAL_FIELDS:
            (message[where] if where else message)[field] = MARKER
    for (where, field), value in broken:
        (message[where] if where else message)[field] = value
    ingest = SaveThenCache(FakeRepository(), CacheGateway(FakeCache()))
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        result = ingest([orjson.dumps(message)])
    assert len(result.rejected) == 1
    reason = result.rejected[0].reason
    for _, field in {f for f, _ in broken}:
        assert f"delivery.{field}" in reason  # the field and its rule are named
    assert MARKER not in reason
    assert all(MARKER not in record.getMessage() for record in caplog.records)


def test_a_value_that_is_no_ones_data_is_still_quoted() -> None:
    message = orjson.loads(orjson.dumps(SAMPLE))
    message["payment"]["amount"] = -41
    message["order_uid"] = "bad id <script>"
    result = SaveThenCache(FakeRepository(), CacheGateway(FakeCache()))([orjson.dumps(message)])
    reason = result.rejected[0].reason
    assert "-41" in reason
    assert "bad id <script>" in reason
