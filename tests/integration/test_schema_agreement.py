"""The SQL schema holds every order the model's bounds allow: each column is checked
against the bound of the field it stores, so the two cannot drift apart."""

from __future__ import annotations

import typing
from datetime import datetime
from typing import Any

import attrs
import msgspec
import psycopg
import pytest

from adapters.postgres.rows import MODELS, TABLES

pytestmark = pytest.mark.integration

INTEGER_RANGES = {"integer": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}
BTREE_MAX_BYTES = 2704  # PostgreSQL's limit for one index entry (btree version 4)


def _bounds(hint: Any) -> tuple[Any, dict[str, Any]]:
    base, *metas = typing.get_args(hint) if typing.get_origin(hint) is typing.Annotated else (hint,)
    found: dict[str, Any] = {}
    for meta in metas:
        if isinstance(meta, msgspec.Meta):
            found.update(
                {
                    k: getattr(meta, k)
                    for k in ("ge", "le", "max_length")
                    if getattr(meta, k) is not None
                }
            )
    return base, found


def test_every_field_fits_its_column(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        columns = {
            (table, name): (kind, nullable)
            for table, name, kind, nullable in conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable"
                " FROM information_schema.columns WHERE table_schema = 'public'"
            )
        }
        indexed = {
            (table, column)
            for table, column in conn.execute(
                "SELECT t.relname, a.attname FROM pg_index i"
                " JOIN pg_class t ON t.oid = i.indrelid"
                " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey)"
            )
        }
    checked = 0
    for table, model in MODELS.items():
        hints = typing.get_type_hints(model, include_extras=True)
        stored = {name for name, _ in TABLES[table]}
        for field in attrs.fields(model):
            if field.name not in stored:
                continue  # nested objects and lists live in tables of their own
            kind, nullable = columns[table, field.name]
            base, bounds = _bounds(hints[field.name])
            assert nullable == "NO", (table, field.name)
            if base is int:
                low, high = INTEGER_RANGES[kind]
                assert low <= bounds["ge"], (table, field.name, kind)
                assert bounds["le"] <= high, (table, field.name, kind)
            elif base is str:
                assert kind == "text", (table, field.name)
                if (table, field.name) in indexed:  # 4 bytes a character at most in UTF-8
                    assert bounds["max_length"] * 4 + 16 <= BTREE_MAX_BYTES, (table, field.name)
            elif base is datetime:
                assert kind == "timestamp with time zone", (table, field.name)
            checked += 1
    # Every scalar field of the four classes (the rest are the nested ones and the items).
    nested = {"delivery", "payment", "items"}
    assert checked == sum(
        1 for model in MODELS.values() for field in attrs.fields(model) if field.name not in nested
    )
