"""The app for uvicorn worker processes: settings come from the environment."""

from __future__ import annotations

import functools
import os

from starlette.applications import Starlette

from entrypoints.container import build_container, http_dependencies
from entrypoints.http.app import create_app
from entrypoints.logs import configure_logging
from entrypoints.process import tune_for_service
from entrypoints.settings import load


def app_from_environment() -> Starlette:
    settings = load()
    configure_logging(settings.log_format, settings.log_level)
    run_consumer = os.environ.get("ORDER_SERVICE_RUN_CONSUMER", "0") == "1"
    container = build_container(settings)
    app = create_app(functools.partial(http_dependencies, container, run_consumer=run_consumer))
    tune_for_service()
    return app
