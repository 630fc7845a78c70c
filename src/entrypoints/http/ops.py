"""Operations endpoints: liveness, readiness, Prometheus metrics, cache administration."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from adapters.telemetry.prometheus import metrics_exposition
from entrypoints.http.admin_auth import denied
from entrypoints.http.bodies import CacheReset, CacheWarmed, respond
from entrypoints.http.errors import error_response
from entrypoints.readiness import Report, liveness, readiness
from order_core import CacheUnavailable, RepositoryFailed, RepositoryUnavailable


def _report(report: Report) -> Response:
    return respond(report.body(), 200 if report.ok else 503)


async def healthz(request: Request) -> Response:
    """Alive: 503 only when restarting the process is the cure (the consumer died)."""
    return _report(liveness(request.app.state.consumer_thread))


async def readyz(request: Request) -> Response:
    """Ready to serve and to make progress: the database answers, the consumer runs and
    is not stuck retrying one batch."""
    state = request.app.state
    report = await run_in_threadpool(readiness, state.dependencies.probes, state.consumer_thread)
    return _report(report)


async def metrics(request: Request) -> Response:
    body, media_type = metrics_exposition()
    return Response(body, media_type=media_type)


async def cache_reset(request: Request) -> Response:
    if (refusal := denied(request)) is not None:
        return refusal
    try:
        await run_in_threadpool(request.app.state.dependencies.cache_admin.reset)
    except CacheUnavailable as exc:
        return error_response(503, "unavailable", f"cache unavailable: {exc}")
    return respond(CacheReset(reset=True))


async def cache_warm(request: Request) -> Response:
    if (refusal := denied(request)) is not None:
        return refusal
    dependencies = request.app.state.dependencies
    try:
        limit = int(request.query_params.get("limit", dependencies.settings.warm_up_orders))
        if limit < 0:
            raise ValueError
    except ValueError:
        return error_response(400, "bad_request", "'limit' must be a whole number, 0 or more")
    try:
        loaded = await run_in_threadpool(dependencies.cache_admin.warm_up, limit)
    except (CacheUnavailable, RepositoryUnavailable, RepositoryFailed) as exc:
        return error_response(503, "unavailable", str(exc))
    return respond(CacheWarmed(loaded))
