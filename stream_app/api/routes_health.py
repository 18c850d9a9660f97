"""``/health`` and ``/ready``: the only endpoints without an API key (for probes)."""

from __future__ import annotations

from fastapi import APIRouter

from stream_app.api.deps import Context
from stream_app.api.errors import UNAVAILABLE_RESPONSES
from stream_app.api.models import Health

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers (Redis not consulted).")
async def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    summary="Readiness: Redis answers through the circuit breaker.",
    responses=UNAVAILABLE_RESPONSES,
)
async def ready(context: Context) -> Health:
    async def ping() -> None:
        await context.redis.ping()

    await context.guard.call(ping)
    return Health(status="ready")
