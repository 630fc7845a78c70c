"""Shared test helpers. Everything the tests read lives inside this repository."""

from __future__ import annotations

import os
import subprocess
from importlib import metadata
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


# What the tests ran with, at the top of every run's output: the locked libraries whose
# behaviour the tests pin, and the browser, which comes from Debian rather than the lock.
REPORTED_LIBRARIES = ("msgspec", "confluent-kafka", "psycopg", "redis", "starlette", "hypothesis")


def pytest_report_header() -> list[str]:
    libraries = ", ".join(f"{name} {metadata.version(name)}" for name in REPORTED_LIBRARIES)
    return [f"locked libraries: {libraries}", f"browser: {_browser_versions()}"]


def _browser_versions() -> str:
    found = []
    for program in (os.environ.get("ORDER_SERVICE_CHROMIUM", "/usr/bin/chromium"), "chromedriver"):
        try:
            done = subprocess.run(
                [program, "--version"], capture_output=True, text=True, timeout=30, check=False
            )
            found.append(done.stdout.strip() or f"{program}: no version")
        except (OSError, subprocess.TimeoutExpired) as exc:
            found.append(f"{program}: {type(exc).__name__}")
    return "; ".join(found)
