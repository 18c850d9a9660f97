"""The live dashboard: ``GET /v1/dashboard`` (scope reports:read), one snapshot to poll,
and ``GET /dashboard``, the page that polls it, with its scripts under
``/dashboard/static``.

The page and its scripts need no key: they hold no data. The page takes the key from
the URL fragment (``/dashboard#key=...``), which browsers never send, so the key stays
out of access logs and proxies; it sends it as a Bearer token on its own requests.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources

from fastapi import APIRouter, Security
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from stream_app.api.auth import authorize
from stream_app.api.dashboard import MODEL, Dashboard, shape
from stream_app.api.deps import Context
from stream_app.api.errors import AUTH_RESPONSES
from stream_app.api.scopes import Scope
from stream_app.clock import to_ms
from stream_app.decisions.lift import CampaignLift
from stream_app.metrics.scrape import scrape_all

#: Per worker endpoint: well below the page's 2 s poll, so a dead worker never stalls it.
SCRAPE_TIMEOUT_S = 1.0
#: Where the page's scripts are served from.
STATIC_PATH = "/dashboard/static"
#: Only our own scripts and styles, no inline code, requests only to this origin; the form
#: never submits anywhere (the key must not end up in a URL).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["dashboard"])


@router.get(
    "/v1/dashboard",
    summary="One snapshot of the engine for the live dashboard: counters, lag, latency, lift.",
    description="Engine counters, the schedule's depth and the model's last checkpoint come "
    "from Redis; lag, stalled partitions, latency percentiles and the model version from the "
    "workers' Prometheus endpoints (those announced in Redis and "
    "`STREAM_APP_METRICS__DASHBOARD_URLS`). A worker that does "
    "not answer is listed in `workers` with the reason, and its figures are missing; it "
    "never makes this request fail.",
    dependencies=[Security(authorize, scopes=[Scope.REPORTS_READ])],
    responses=AUTH_RESPONSES,
)
async def dashboard(context: Context) -> Dashboard:
    metrics = context.settings.metrics
    at = context.clock()

    async def read() -> tuple[
        dict[str, int], tuple[int, int], dict[str, float], list[CampaignLift], list[str]
    ]:
        return (
            await context.stats.read(),
            await context.schedule.depth(),
            await context.models.meta(MODEL),
            await context.decisions.lifts(),
            await context.endpoints.live(to_ms(at), metrics.announce_ttl_ms()),
        )

    counters, depth, meta, lifts, announced = await context.guard.call(read)
    scrapes = await scrape_all(workers(metrics.dashboard_urls, announced), SCRAPE_TIMEOUT_S)
    return shape(at, counters, depth, meta, lifts, scrapes)


def workers(configured: Iterable[str], announced: Iterable[str]) -> tuple[str, ...]:
    """The endpoints to read: the configured ones, then those announced, each once.

    >>> workers(["http://a:9108/metrics"], ["http://b:9108/metrics", "http://a:9108/metrics"])
    ('http://a:9108/metrics', 'http://b:9108/metrics')
    """
    return tuple(dict.fromkeys((*configured, *announced)))


@router.get("/dashboard", include_in_schema=False)
async def page() -> HTMLResponse:
    """The page (no key needed: it holds no data)."""
    return HTMLResponse(page_text("dashboard.html"), headers=PAGE_HEADERS)


def static_files() -> StaticFiles:
    """The page's scripts and styles, and Chart.js (vendored: the page works offline)."""
    return StaticFiles(packages=[("stream_app.api", "static")])


@functools.cache
def page_text(name: str) -> str:
    """A page of the API's package (the dashboard's, the customer view's), read once."""
    return resources.files("stream_app.api").joinpath(name).read_text("utf-8")
