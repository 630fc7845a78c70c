"""Fixtures shared by the unit tests of the HTTP app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from entrypoints.container import Container, build_container
from entrypoints.http.app import create_app
from entrypoints.settings import load

ADMIN_TOKEN = "t0ken"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def app() -> Iterator[tuple[TestClient, Container]]:
    """The real app on the real container, with the in-memory repository and cache."""
    container = build_container(
        load({}, {"repository": "memory", "cache_backend": "memory", "admin_token": ADMIN_TOKEN})
    )
    with TestClient(create_app(container)) as client:
        yield client, container
