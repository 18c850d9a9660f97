"""``/health`` and ``/ready``: the only endpoints without an API key (for probes)."""

from __future__ import annotations

from fastapi import APIRouter
from redis.exceptions import NoPermissionError

from stream_app.api.deps import Context
from stream_app.api.errors import UNAVAILABLE_RESPONSES
from stream_app.api.models import Health
from stream_app.storage.full import over_maxmemory

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers (Redis not consulted).")
async def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    summary="Readiness: Redis answers through the circuit breaker.",
    description="`read_only` (still 200: reads are served) while Redis is full, at its "
    "maxmemory: writes answer 503 until memory is freed.",
    responses=UNAVAILABLE_RESPONSES,
)
async def ready(context: Context) -> Health:
    async def full() -> bool:
        try:
            return over_maxmemory(await context.redis.info("memory"))
        except NoPermissionError:  # an ACL user without INFO: reachable is all we learn
            await context.redis.ping()
            return False

    return Health(status="read_only" if await context.guard.call(full) else "ready")
