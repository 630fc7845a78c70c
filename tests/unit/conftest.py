"""Fixtures shared by the unit tests of the HTTP app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dependency_injector import providers
from starlette.testclient import TestClient

from entrypoints.container import Container, build_container, http_dependencies
from entrypoints.http.app import create_app
from entrypoints.settings import load
from tests.fakes import FakeRepository

ADMIN_TOKEN = "t0ken"
# Memory backends, and no reading of the group's lag: the unit tests reach no server.
IN_MEMORY = {"repository": "memory", "cache_backend": "memory", "lag_poll_seconds": "0"}
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def app() -> Iterator[tuple[TestClient, Container]]:
    """The real app on the real container, with the in-memory cache and a repository that
    a test can switch off (tests.fakes.FakeRepository)."""
    container = build_container(load({}, {**IN_MEMORY, "admin_token": ADMIN_TOKEN}))
    container.repository.override(providers.Object(FakeRepository()))
    with TestClient(create_app(http_dependencies(container))) as client:
        yield client, container
