"""Engine-wide counters in one Redis hash, shared by all workers (demo, operators)."""

from __future__ import annotations

from redis.asyncio import Redis

from stream_app.counts import Counts
from stream_app.storage.commit import Writes
from stream_app.storage.layout import Keys, as_stats


class StatsStore:
    """Engine-wide counters shared by all workers (for the demo and operators)."""

    def __init__(self, client: Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    def add(self, writes: Writes, counts: Counts) -> None:
        """Count ``counts`` with the pass's other writes (so a replayed batch whose
        writes were lost is counted once, when it is written)."""
        key = self._keys.stats()
        for name, n in as_stats(counts).items():
            writes.add("HINCRBY", key, name, n)

    async def read(self) -> dict[str, int]:
        raw = await self._client.hgetall(self._keys.stats())
        return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
