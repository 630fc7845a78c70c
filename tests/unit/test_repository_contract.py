"""The repository contract held by the in-memory repository."""

from __future__ import annotations

import pytest

from adapters.memory_repository import InMemoryOrderRepository
from tests.contracts.repository import *  # noqa: F403 - the contract's tests


@pytest.fixture
def repository() -> InMemoryOrderRepository:
    return InMemoryOrderRepository()
