"""The HTTP API: ``create_app`` wires settings, Redis, stores and routes.

Stores are built once, when the app is made, into the ``ApiContext`` that handlers
reach through ``Depends`` (``api.deps``); no request builds one.

Library: FastAPI (on Starlette, with pydantic, which the engine already uses for
its contracts): typed handlers, dependency injection for auth, and an OpenAPI
3.1 spec generated from the same models that serialize the responses, so the
published spec (``docs/openapi.json``) cannot disagree with what is served.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from stream_app import __version__
from stream_app.api import (
    routes_customers,
    routes_dashboard,
    routes_health,
    routes_profiles,
    routes_reports,
    routes_segments,
    routes_view,
)
from stream_app.api.api_key_store import ApiKeyStore
from stream_app.api.breaker import RedisGuard, UnavailableError
from stream_app.api.deps import ApiContext
from stream_app.api.errors import unavailable
from stream_app.api.logs import AccessLog
from stream_app.api.ratelimit import RateLimiter
from stream_app.api.tokens import check_pepper
from stream_app.clock import Clock, utc_now
from stream_app.metrics.api import ApiMetrics
from stream_app.segments.rules import SegmentRules, load_segments
from stream_app.settings import Settings
from stream_app.storage.bundle import build_stores
from stream_app.storage.client import RedisClient
from stream_app.storage.connection import redis_client
from stream_app.storage.erasure import ErasureStore

DESCRIPTION = """\
Read profiles, segments, decisions and lift of the stream_app engine; erase customers.

Every `/v1` endpoint needs an API key (`stream-app api-key create`) with one of the scopes
it names, sent as `Authorization: Bearer <key>` or `X-API-Key: <key>`; `admin` implies every
scope. A `support` key reads one customer at a time (their view and decisions), nothing in
bulk, and its lookups have a limit of their own.
Each key has its own rate limit (429 with `Retry-After`). When Redis is slow or down the
API answers 503 with `Retry-After` at once instead of hanging.
"""


class StreamAppApi(FastAPI):
    """FastAPI with the configured batch limit stated in its spec."""

    batch_max: int = 100

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            spec = super().openapi()
            ids = spec["components"]["schemas"]["ProfileBatchRequest"]["properties"]["ids"]
            ids["maxItems"] = self.batch_max
            self.openapi_schema = spec
        return self.openapi_schema


def api_redis(settings: Settings) -> RedisClient:
    """The API's own client: short timeouts and no retries, so failures surface fast
    (the circuit breaker, not the client, decides when to try again)."""
    client = redis_client(settings, timeout_s=settings.api.redis_timeout_s)
    client.set_retry(Retry(NoBackoff(), 0))
    return client


def create_app(
    settings: Settings | None = None,
    *,
    redis: RedisClient | None = None,
    clock: Clock = utc_now,
    metrics: ApiMetrics | None = None,
) -> FastAPI:
    """The API app. A ``redis`` passed in stays the caller's; one made here is closed
    when the app shuts down. ``metrics`` (the caller serves them) count every request."""
    settings = settings or Settings()
    check_pepper(settings)
    client = redis if redis is not None else api_redis(settings)
    stores = build_stores(client, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if redis is None:
            await client.aclose()

    app = StreamAppApi(
        title="stream_app API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.batch_max = settings.api.batch_max
    app.state.context = ApiContext(
        settings=settings,
        redis=client,
        clock=clock,
        guard=RedisGuard(
            failures=settings.api.breaker_failures,
            reset_s=settings.api.breaker_reset_s,
            deadline_s=settings.api.deadline_s,
        ),
        api_keys=ApiKeyStore(
            client, stores.keys, settings.secrets.api_key_pepper.get_secret_value().encode()
        ),
        limiter=RateLimiter(client, stores.keys),
        profiles=stores.profiles,
        value_rules=settings.profiles.value_rules(),
        segments=stores.segments,
        segment_rules=SegmentRules(load_segments(settings.segments.file)),
        decisions=stores.decisions,
        decision_log=stores.decision_log,
        erasure=ErasureStore(client, stores.keys),
        stats=stores.stats,
        schedule=stores.schedule,
        models=stores.models,
        endpoints=stores.endpoints,
        funnel=stores.funnel,
    )
    app.add_exception_handler(UnavailableError, unavailable)
    app.add_middleware(AccessLog, metrics=metrics)
    for module in (
        routes_health,
        routes_profiles,
        routes_segments,
        routes_customers,
        routes_reports,
        routes_dashboard,
        routes_view,
    ):
        app.include_router(module.router)
    app.mount(routes_dashboard.STATIC_PATH, routes_dashboard.static_files(), name="dashboard")
    return app
