"""The endpoint registry on a real Redis: announced URLs are listed while they beat,
re-announcing moves a worker's heartbeat, and silent ones are removed when read."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from stream_app.storage.endpoints import EndpointStore
from stream_app.storage.layout import Keys

pytestmark = pytest.mark.integration

TTL_MS = 30_000


async def test_announce_live_and_prune(redis: Redis) -> None:
    keys = Keys(f"ep{uuid.uuid4().hex[:8]}")
    store = EndpointStore(redis, keys)
    a, b = "http://w-a:9108/metrics", "http://w-b:9108/metrics"
    await store.announce(a, 1_000)
    await store.announce(b, 20_000)
    assert await store.live(25_000, TTL_MS) == [a, b]
    await store.announce(a, 40_000)  # a beats again, b falls silent
    assert await store.live(50_001, TTL_MS) == [a]
    assert await redis.zrange(keys.endpoints(), 0, -1) == [a.encode()]  # b pruned
    assert await store.live(50_001, TTL_MS) == [a]  # reading again changes nothing
