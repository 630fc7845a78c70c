"""Fixtures of the fault-injection suite (real servers, taken down and brought back).

The database fixtures are the integration suite's, imported by name (``pytest_plugins`` is
not allowed outside the root conftest). Every test leaves the servers running: the ones it
stops are started again in a ``finally``, and ``servers_restored`` checks after each test.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator, Mapping

import pytest

from tests.faults.harness.measures import ARTIFACTS, Figures
from tests.faults.harness.servers import frozen_services, service_pid, services, stopped_services
from tests.integration.conftest import clean_database, database_url
from tests.support import ServiceProcess, Spawn

__all__ = ["clean_database", "database_url"]

_FIGURES: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults: fault injection on the real servers (stops and restarts them)"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("fault-injection figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    recorded = Figures(request.node.name)
    yield recorded
    if recorded.values:
        line = recorded.line()
        print(f"\nFIGURES {line}")
        _FIGURES.append(line)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{_safe(request.node.name)}.txt").write_text(line + "\n")


@pytest.fixture
def spawn(request: pytest.FixtureRequest) -> Iterator[Spawn]:
    """Starts ``order-service COMMAND`` (env, name for its log); kills what is left at the end."""
    started: list[ServiceProcess] = []

    def start(command: str, env: Mapping[str, str], name: str) -> ServiceProcess:
        log = ARTIFACTS / f"{_safe(request.node.name)}.{name}.log"
        process = ServiceProcess(command, env, log)
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()


@pytest.fixture(autouse=True)
def servers_restored() -> Iterator[None]:
    """Whatever a test did, every server runs again after it (and it fails if one did not),
    stopped or frozen (SIGSTOP)."""
    yield
    frozen = frozen_services()
    for name in frozen:
        os.kill(service_pid(name), signal.SIGCONT)
    down = stopped_services()
    for name in down:
        services("start", name)
    assert not down, f"the test left {down} stopped"
    assert not frozen, f"the test left {frozen} frozen"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
