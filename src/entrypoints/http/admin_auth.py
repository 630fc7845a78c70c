"""The admin endpoints' one check: a bearer token equal to the admin_token setting."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from entrypoints.http.errors import error_response


def denied(request: Request) -> Response | None:
    """The answer refusing the request, or None when it carries the admin token.

    With no token set the admin endpoints do not exist (404): there is nothing to guess.
    """
    token: str = request.app.state.dependencies.settings.admin_token
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
