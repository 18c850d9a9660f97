"""Engine-wide counters in one Redis hash, shared by all workers (demo, operators)."""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis

from stream_app.storage.keys import Keys


class StatsStore:
    """Engine-wide counters shared by all workers (for the demo and operators)."""

    def __init__(self, client: Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    async def add(self, counters: Mapping[str, int]) -> None:
        nonzero = {name: n for name, n in counters.items() if n}
        if not nonzero:
            return
        pipe = self._client.pipeline(transaction=False)
        for name, n in nonzero.items():
            pipe.hincrby(self._keys.stats(), name, n)
        await pipe.execute()

    async def read(self) -> dict[str, int]:
        raw = await self._client.hgetall(self._keys.stats())
        return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
