"""The order's field list lives in the model alone.

A file that names every field of one of the order's classes restates the list: adding a
field would leave it behind, silently or as a failing test. The only files allowed to are
the definition, the schema's migrations, the sample orders (data, not code) and the
generators of test orders; the web page names the fields it lays out and shows any other
field generically. Everything else (the table layout, the benchmarks, the tests) derives
the fields from the model (``attrs.fields``, ``adapters.postgres.rows``).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import attrs
import pytest

from order_core import Delivery, Item, Order, Payment

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {
    "src/order_core/model.py": "the definition",
    "src/order_tools/fake_orders.py": "generates realistic orders",
    "tests/strategies.py": "generates orders for the property tests",
}
ALLOWED_PREFIXES = {
    "src/adapters/postgres/migrations/": "the columns, one migration at a time",
    "examples/": "sample orders",
    "src/entrypoints/static/": "the page lays out the fields it knows, others generically",
}


def _tracked_text_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [name for name in listed if (ROOT / name).is_file()]


def _allowed(name: str) -> bool:
    return name in ALLOWED or any(name.startswith(p) for p in ALLOWED_PREFIXES)


@pytest.mark.parametrize("model", [Order, Delivery, Payment, Item], ids=lambda m: m.__name__)
def test_no_file_but_the_model_lists_every_field(model: type) -> None:
    names = [field.name for field in attrs.fields(model)]
    patterns = [re.compile(rf"\b{re.escape(name)}\b") for name in names]
    restating = []
    for name in _tracked_text_files():
        if _allowed(name):
            continue
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # not text
        if all(pattern.search(text) for pattern in patterns):
            restating.append(name)
    assert restating == [], f"these files list every field of {model.__name__}: {restating}"


def test_the_allowed_files_exist() -> None:
    """An allowance for a file that is gone would hide a restatement moved elsewhere."""
    for name in ALLOWED:
        assert (ROOT / name).is_file(), name
    for prefix in ALLOWED_PREFIXES:
        assert (ROOT / prefix).is_dir(), prefix
