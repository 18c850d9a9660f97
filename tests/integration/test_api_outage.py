"""Redis slow or down: the API answers 503 with Retry-After within about a second, never
hangs, and serves again once Redis is back and the circuit breaker closes."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from stream_app.api import create_app
from stream_app.api.scopes import Scope
from stream_app.devstack.redis_server import RedisServer
from stream_app.settings import Settings
from tests.integration.api_support import client, new_key, running
from tests.integration.fixtures import eventually

pytestmark = pytest.mark.integration

#: Appendonly, so the API key survives the restart like in a real deployment.
PERSISTENT = ["--appendonly", "yes", "--appendfsync", "always"]


async def timed(http: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = await http.get(path)
    return answer, time.monotonic() - started


def assert_unavailable(answer: httpx.Response, elapsed: float) -> None:
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.json() == {"detail": "redis unavailable"}
    assert elapsed < 1.0, f"took {elapsed:.2f} s"


async def test_outage_answers_503_fast_and_recovers(settings: Settings, tmp_path: Path) -> None:
    data = tmp_path / "redis-data"
    server = RedisServer(tmp_path, extra_args=PERSISTENT, data_dir=data).start()
    local = settings.updated(
        redis={"url": server.url},
        api={"redis_timeout_s": 0.3, "breaker_failures": 2, "breaker_reset_s": 1.0},
    )
    admin = Redis.from_url(server.url)
    try:
        token = await new_key(admin, local, Scope.ADMIN, now=datetime.now(UTC))
        app = create_app(local)  # its own client, with the short timeouts
        async with running(app), client(app, token) as http:
            assert (await http.get("/v1/segments")).status_code == 200

            # Slow: Redis holds every command for 1.5 s; the API gives up after 0.3 s.
            await admin.execute_command("CLIENT", "PAUSE", 1500, "ALL")
            slow = [await timed(http, "/v1/segments") for _ in range(3)]
            for answer, elapsed in slow:
                assert_unavailable(answer, elapsed)
            assert slow[0][1] >= 0.25, "the first waited for the socket timeout"
            assert slow[2][1] < 0.1, "two timeouts opened the breaker: refused without Redis"
            assert_unavailable(*await timed(http, "/ready"))
            await asyncio.sleep(1.6)  # pause over, breaker half-open
            assert (await http.get("/v1/segments")).status_code == 200

            # Down: connections refused.
            await admin.aclose()
            server.stop()
            answers = [await timed(http, "/v1/segments") for _ in range(4)]
            for answer, elapsed in answers:
                assert_unavailable(answer, elapsed)
            assert_unavailable(*await timed(http, "/ready"))
            assert (await http.get("/health")).status_code == 200, "liveness needs no Redis"

            # Back on the same port with its data: the breaker lets a trial through and closes.
            server = RedisServer(
                tmp_path, port=server.port, extra_args=PERSISTENT, data_dir=data
            ).start()

            async def segments_status() -> int:
                return (await http.get("/v1/segments")).status_code

            assert await eventually(segments_status, lambda status: status == 200, within=5) == 200
            assert (await http.get("/ready")).json() == {"status": "ready"}
    finally:
        await admin.aclose()
        server.stop()
