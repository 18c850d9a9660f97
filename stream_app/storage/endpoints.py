"""Where the workers' metrics are: each worker announces its ``/metrics`` URL with a
heartbeat, so the live dashboard finds N replicas in compose or Kubernetes without a
fixed list. Not on the hot path: one write per heartbeat, one read per dashboard poll."""

from __future__ import annotations

from stream_app.storage.client import RedisClient
from stream_app.storage.layout import Keys


class EndpointStore:
    """The registry of workers' metrics URLs (``Keys.endpoints``)."""

    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    async def announce(self, url: str, now_ms: int) -> None:
        """Record that the worker at ``url`` is alive at ``now_ms`` (idempotent)."""
        await self._client.zadd(self._keys.endpoints(), {url: now_ms})

    async def live(self, now_ms: int, ttl_ms: int) -> list[str]:
        """The URLs heard within ``ttl_ms`` of ``now_ms``, sorted; older ones are removed
        in the same round trip (a worker gone for good leaves no trace)."""
        key, since = self._keys.endpoints(), now_ms - ttl_ms
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", f"({since}")
            pipe.zrangebyscore(key, since, "+inf")
            _, members = await pipe.execute()
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)
