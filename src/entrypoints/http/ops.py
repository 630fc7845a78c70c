"""Operations endpoints: liveness, readiness, Prometheus metrics, cache administration."""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from entrypoints.http.errors import error_response
from order_core import CacheUnavailable, RepositoryUnavailable


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    container = request.app.state.container
    checks: dict[str, str] = {}

    def check_repository() -> None:
        ping = getattr(container.repository(), "ping", None)
        if ping is not None:
            ping()

    def check_cache() -> None:
        container.cache().get("readyz-probe")

    try:
        await run_in_threadpool(check_repository)
        checks["repository"] = "ok"
    except RepositoryUnavailable as exc:
        checks["repository"] = f"unavailable: {exc}"
    try:
        await run_in_threadpool(check_cache)
        checks["cache"] = "ok"
    except CacheUnavailable as exc:
        # Not fatal for lookups (they fall back to the repository), but worth showing.
        checks["cache"] = f"degraded: {exc}"
    consumer = request.app.state.consumer_thread
    if consumer is not None:
        checks["consumer"] = "ok" if consumer.alive else "stopped"
    ready = checks["repository"] == "ok" and checks.get("consumer", "ok") == "ok"
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _authorized(request: Request) -> Response | None:
    token: str = request.app.state.container.config.admin_token()
    if not token:
        return error_response(404, "not_found", "admin endpoints are disabled (no admin token)")
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return error_response(
            401,
            "unauthorized",
            "a valid 'Authorization: Bearer' token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return None


async def cache_reset(request: Request) -> Response:
    if (denied := _authorized(request)) is not None:
        return denied
    try:
        await run_in_threadpool(request.app.state.container.cache_admin().reset)
    except CacheUnavailable as exc:
        return error_response(503, "unavailable", f"cache unavailable: {exc}")
    return JSONResponse({"reset": True})


async def cache_warm(request: Request) -> Response:
    if (denied := _authorized(request)) is not None:
        return denied
    container = request.app.state.container
    try:
        limit = int(request.query_params.get("limit", container.config.warm_up_orders()))
    except ValueError:
        return error_response(400, "bad_request", "'limit' must be a whole number")
    try:
        loaded = await run_in_threadpool(container.cache_admin().warm_up, limit)
    except (CacheUnavailable, RepositoryUnavailable) as exc:
        return error_response(503, "unavailable", str(exc))
    return JSONResponse({"loaded": loaded})
