"""Error answers and how the OpenAPI spec documents them.

Errors carry a fixed reason, never input values or whether a customer exists.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from stream_app.api.breaker import UnavailableError
from stream_app.api.models import ErrorBody

REALM = 'Bearer realm="stream_app"'

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}

UNAVAILABLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorBody,
        "description": "Redis is unavailable (slow, down, or the circuit breaker is open), "
        "or full (maxmemory reached: writes are refused, reads still work).",
        "headers": _RETRY_AFTER,
    },
}

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorBody,
        "description": "API key missing, malformed, unknown or revoked.",
        "headers": {
            "WWW-Authenticate": {
                "description": "The Bearer challenge.",
                "required": True,
                "schema": {"type": "string"},
            }
        },
    },
    403: {"model": ErrorBody, "description": "The API key lacks the scope this endpoint needs."},
    429: {
        "model": ErrorBody,
        "description": "The API key's rate limit is exhausted.",
        "headers": _RETRY_AFTER,
    },
    **UNAVAILABLE_RESPONSES,
}

BAD_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body cannot be parsed (not JSON, not UTF-8)."}
}

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Not found."}
}


async def unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503 with ``Retry-After`` (registered for ``UnavailableError``, ``RedisFullError``
    included: its own detail says writes wait for memory)."""
    assert isinstance(exc, UnavailableError)
    return JSONResponse(
        {"detail": exc.detail},
        status_code=503,
        headers={"Retry-After": str(exc.retry_after)},
    )
