"""Per-key request limits, shared by every API process through Redis.

Library: ``limits`` (alisaifee/limits, the engine behind Flask-Limiter and
SlowAPI), used directly rather than through a framework plugin so the limit can
be each key's own. Strategy: the sliding window counter, two counters per key
weighted by the time left in the previous window: O(1) memory like a fixed
window but without its burst of twice the limit around the window boundary,
and far cheaper than the moving window's per-request log. It runs on the API's
own redis-py connection pool (``implementation="redispy"``), so it inherits the
short timeouts and every call goes through the API's circuit breaker.

Counting a request is a write: when Redis is full (``maxmemory``, ``noeviction``)
it is refused, and the request is counted in this process's memory instead, so
reads go on being served, still limited (per process) while Redis has no room.
"""

from __future__ import annotations

import math
import time
from typing import Any, cast

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisClusterStorage, RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.exceptions import ResponseError

from stream_app.storage.client import RedisClient, is_cluster
from stream_app.storage.full import refuses_writes
from stream_app.storage.layout import Keys


class RateLimiter:
    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(_storage(client, keys))
        self._local = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def hit(self, key_id: str, per_minute: int) -> int | None:
        """Count one request of ``key_id``: None if allowed, else seconds to wait."""
        item = RateLimitItemPerMinute(per_minute)
        limiter = self._limiter
        try:
            allowed = await limiter.hit(item, key_id)
        except ResponseError as exc:
            if not refuses_writes(exc):
                raise
            limiter = self._local  # Redis full: count here until it has room again
            allowed = await limiter.hit(item, key_id)
        if allowed:
            return None
        stats = await limiter.get_window_stats(item, key_id)
        return max(1, math.ceil(stats.reset_time - time.time()))


def _storage(client: RedisClient, keys: Keys) -> RedisStorage:
    """The limits library's storage over ``client``'s connections (its URI only selects
    the redis-py bridge: a cluster storage then talks through our cluster client)."""
    if is_cluster(client):
        cluster = RedisClusterStorage(
            "async+redis+cluster://127.0.0.1:0",
            implementation="redispy",
            key_prefix=keys.rate_limits(),
        )
        bridge = cast(Any, cluster.bridge)
        bridge.storage = client
        bridge.connection_getter = lambda _: client
        bridge.register_scripts()  # bound to the client they are registered with
        return cluster
    return RedisStorage(
        "async+redis://",
        implementation="redispy",
        key_prefix=keys.rate_limits(),
        connection_pool=cast(Any, client.connection_pool),
    )
