"""Shared test helpers. Everything the tests read lives inside this repository."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parents[1]
SAMPLE_PATH = REPO_DIR / "examples" / "sample-order.json"
# The order_uid of the sample in examples/sample-order.json.
SAMPLE_ID = "b563feb7b2b84b6test"


@pytest.fixture(scope="session")
def sample_bytes() -> bytes:
    """The canonical sample order, exactly as shipped in examples/sample-order.json."""
    return SAMPLE_PATH.read_bytes()
