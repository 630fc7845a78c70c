"""The commands that run the service: serve, http, consume, migrate."""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import tempfile
import time
from typing import Any

import uvicorn

from adapters.postgres.migrations import migrate, migration_status
from entrypoints.cli.errors import ConsumerStopped, MigrationsPending, Unreachable, kafka_ready
from entrypoints.container import build_container, http_dependencies, worker_dependencies
from entrypoints.http.app import create_app
from entrypoints.http.bounded_protocol import BoundedHttpToolsProtocol
from entrypoints.ops_server import start_ops_server
from entrypoints.process import tune_for_service
from entrypoints.readiness import liveness, readiness
from entrypoints.settings import ENV_PREFIX, Settings
from entrypoints.worker import ConsumerThread
from order_core import RepositoryFailed, RepositoryUnavailable

log = logging.getLogger("order-service")
# What leaving the group may take after the batch in hand: a commit and a close.
SHUTDOWN_MARGIN = 10.0


def run_migrate(settings: Settings, *, status: bool = False, check: bool = False) -> int:
    """Apply the migrations; with ``status`` list them (applied when, or pending) and apply
    nothing; with ``check`` apply nothing and exit 1 while any is pending (a gate for a
    rollout: the schema is there before the code that needs it starts)."""
    if settings.repository != "postgres":
        return 0
    if status or check:
        return _migration_status(settings, show=status)
    try:
        applied = migrate(settings.db_migration_url or settings.database_url)
    except RepositoryUnavailable as exc:
        raise Unreachable(f"cannot reach PostgreSQL: {exc}") from None
    except RepositoryFailed as exc:
        raise Unreachable(f"cannot migrate PostgreSQL: {exc}") from None
    log.info("migrations: %s", ", ".join(applied) if applied else "up to date")
    return 0


def _migration_status(settings: Settings, *, show: bool) -> int:
    try:
        found = migration_status(settings.db_migration_url or settings.database_url)
    except (RepositoryUnavailable, RepositoryFailed) as exc:
        raise Unreachable(f"cannot read the migrations of PostgreSQL: {exc}") from None
    pending = [name for name, at in found if at is None]
    if show:
        for name, at in found:
            print(f"{name}  {'pending' if at is None else 'applied ' + at.isoformat()}")
    if pending:
        raise MigrationsPending(f"{len(pending)} migration(s) pending: {', '.join(pending)}")
    if not show:
        print(f"migrations: all {len(found)} applied")
    return 0


def run_serve(settings: Settings, overrides: dict[str, str | None]) -> int:
    """Migrate, then serve HTTP and consume in one process."""
    run_migrate(settings)
    return _uvicorn(settings, overrides, run_consumer=True)


def run_http(settings: Settings, overrides: dict[str, str | None]) -> int:
    """Serve HTTP only (scale lookups apart from ingestion)."""
    return _uvicorn(settings, overrides, run_consumer=False)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How the service runs uvicorn (tests run it the same way)."""
    return {
        "host": settings.http_host,
        "port": settings.http_port,
        "access_log": False,
        "log_config": None,
        "timeout_graceful_shutdown": 10,
        "loop": "uvloop",
        # httptools, with the request head bounded (16 KiB).
        "http": BoundedHttpToolsProtocol,
    }


def _uvicorn(settings: Settings, overrides: dict[str, str | None], *, run_consumer: bool) -> int:
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: let that re-raise end the
    # process with status 0, as a finished shutdown should.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    common = uvicorn_options(settings)
    if settings.http_workers == 1:
        container = build_container(settings)
        app = create_app(functools.partial(http_dependencies, container, run_consumer=run_consumer))
        tune_for_service()
        uvicorn.run(app, **common)
        return 0
    # Several worker processes import the app by name and read settings from the environment;
    # their metrics are merged through files in a directory of their own (Prometheus
    # multiprocess mode), so /metrics tells the same whichever worker answers it.
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="order-service-metrics-")
    for name, value in overrides.items():
        if value is not None:
            os.environ[ENV_PREFIX + name.upper()] = value
    os.environ["ORDER_SERVICE_RUN_CONSUMER"] = "1" if run_consumer else "0"
    uvicorn.run(
        "entrypoints.http.asgi:app_from_environment",
        factory=True,
        workers=settings.http_workers,
        **common,
    )
    return 0


def run_consume(settings: Settings) -> int:
    """Migrate, then consume until SIGTERM/SIGINT (exit 0) or a fatal error (exit 1)."""
    run_migrate(settings)
    kafka_ready(settings)
    dependencies = worker_dependencies(
        build_container(settings), serves_metrics=bool(settings.ops_port)
    )
    worker = ConsumerThread(dependencies)
    tune_for_service()
    if settings.ops_port:
        start_ops_server(
            settings.http_host,
            settings.ops_port,
            alive=lambda: liveness(worker),
            ready=lambda: readiness(dependencies.probes, worker),
        )

    stopping_since: list[float] = []

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %s: finishing the batch in hand, then leaving the group", signum)
        stopping_since.append(time.monotonic())
        worker.stop(timeout=0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.start()
    # The batch in hand gets shutdown_timeout, then committing and leaving the group get
    # the rest: whatever the database or the broker does, the process ends by then.
    bound = settings.shutdown_timeout + SHUTDOWN_MARGIN
    try:
        while worker.alive:
            if stopping_since and time.monotonic() - stopping_since[0] > bound:
                log.error("shutdown did not finish within %.0fs: exiting anyway", bound)
                logging.shutdown()
                os._exit(1)
            time.sleep(0.2)
    finally:
        dependencies.close()
    if worker.failure is not None:
        raise ConsumerStopped(f"consumer stopped: {worker.failure}")
    return 0
