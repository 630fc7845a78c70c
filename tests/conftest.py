"""Shared test helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLE_PATH = Path(__file__).resolve().parents[2] / "shared" / "seed" / "model.json"


@pytest.fixture(scope="session")
def sample_bytes() -> bytes:
    """The canonical sample order, exactly as shipped in ../shared/seed/model.json."""
    return SAMPLE_PATH.read_bytes()
