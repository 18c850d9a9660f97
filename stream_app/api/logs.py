"""Access log without personal data: the route template, never the path or the body.

Uvicorn's own access log prints the raw path (``/v1/profiles/<customer id>``) at
info level, so ``stream-app api`` turns it off and this middleware logs the
method, the route template (``/v1/profiles/{customer_id}``), the status, the
time taken and the API key id instead.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stream_app.metrics.api import ApiMetrics

log = logging.getLogger("stream_app.api.access")


class AccessLog:
    """Logs each request and, when given ``metrics``, counts and times it there too."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = getattr(scope.get("route"), "path", "<unmatched>")
            state = scope.get("state") or {}
            seconds = time.perf_counter() - started
            log.info(
                "%s %s %d %.1f ms key=%s",
                scope["method"],
                route,
                status,
                seconds * 1000,
                state.get("key_id", "-"),
            )
            if self.metrics is not None:
                self.metrics.observe(scope["method"], route, status, seconds)
