"""``GET /v1/dashboard`` in-process on the session's Redis, reading the session worker's
real Prometheus endpoint, found in the endpoint registry: live figures, a silent worker
reported, Redis down -> 503."""

from __future__ import annotations

import socket
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from stream_app.api import create_app
from stream_app.api.scopes import Scope
from stream_app.devstack.ports import free_port
from stream_app.devstack.processes import ManagedProcess
from stream_app.settings import Settings
from stream_app.storage.stats import StatsStore
from tests.integration.api_support import client, new_key
from tests.integration.fixtures import dumps, event, eventually, produce

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


async def test_dashboard_shows_the_engine_live(
    worker: ManagedProcess, settings: Settings, redis: Redis
) -> None:
    cid = f"dash-{uuid.uuid4().hex[:8]}"
    view = event("product_view", cid, f"e-{cid}", item_id="sku-1", category="books", price=9.0)
    await produce(settings, settings.topics.clickstream, [(cid.encode(), dumps(view))])
    token = await new_key(redis, settings, Scope.REPORTS_READ, now=NOW)
    # No URL configured: the dashboard finds the worker by what it announced.
    app = create_app(settings.updated(metrics={"dashboard_urls": ()}), redis=redis)
    announced = settings.metrics.advertised(socket.gethostname())

    async with client(app, token) as http:

        async def snapshot() -> dict[str, Any]:
            answer = await http.get("/v1/dashboard")
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body

        def ready(s: dict[str, Any]) -> bool:
            return (
                s["events"]["applied"] >= 1
                and s["lag"]["total"] is not None
                and len(s["lag"]["partitions"]) > 0
                and s["latency"]["event_apply"]["count"] >= 1
            )

        shot = await eventually(snapshot, ready, within=30)
    assert ready(shot), shot
    assert {"url": announced, "up": True, "error": None} in shot["workers"]
    topics = {p["topic"] for p in shot["lag"]["partitions"]}
    assert settings.topics.clickstream in topics
    assert shot["latency"]["event_apply"]["p50"] > 0
    assert shot["counters"]["events_applied"] == shot["events"]["applied"]
    assert set(shot["decisions"]) == {"planned", "deferred", "emitted", "holdout", "cancelled"}


async def test_a_silent_worker_is_reported_not_fatal(
    worker: ManagedProcess, settings: Settings, redis: Redis
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/metrics"
    local = settings.updated(metrics={"dashboard_urls": (*settings.metrics.dashboard_urls, dead)})
    token = await new_key(redis, local, Scope.ADMIN, now=NOW)
    async with client(create_app(local, redis=redis), token) as http:
        started = time.monotonic()
        answer = await http.get("/v1/dashboard")
        elapsed = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert elapsed < 2.0
    workers = answer.json()["workers"]
    assert {"url": dead, "up": False, "error": "unreachable"} in workers


async def test_dashboard_needs_reports_read(settings: Settings, redis: Redis) -> None:
    token = await new_key(redis, settings, Scope.PROFILES_READ, Scope.DECISIONS_READ, now=NOW)
    async with client(create_app(settings, redis=redis), token) as http:
        assert (await http.get("/v1/dashboard")).status_code == 403


async def test_redis_failing_answers_503(
    settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot's reads go through the API's Redis guard: 503 with Retry-After."""
    token = await new_key(redis, settings, Scope.REPORTS_READ, now=NOW)

    async def unavailable(self: StatsStore) -> dict[str, int]:
        raise RedisConnectionError("connection refused")

    monkeypatch.setattr(StatsStore, "read", unavailable)
    async with client(create_app(settings, redis=redis), token) as http:
        answer = await http.get("/v1/dashboard")
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.json() == {"detail": "redis unavailable"}
