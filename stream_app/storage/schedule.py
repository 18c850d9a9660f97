"""Durable scheduled checks in Redis: a due-time sorted set drained by leases.

A check is claimed (moved to ``inflight`` with a lease), evaluated, and
settled; a worker that dies mid-way leaves the lease to expire and another
claim picks the check up again. Handlers make their own effects idempotent
(``DecisionStore`` remembers sent decision ids).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from redis.asyncio import Redis

from stream_app.storage.keys import Keys
from stream_app.storage.scripts import LuaScript


@dataclass
class Settlement:
    """How claimed checks ended: re-armed checks and finished ones."""

    finished: list[str] = field(default_factory=list)
    rescheduled: dict[str, int] = field(default_factory=dict)


class ScheduleStore:
    def __init__(self, client: Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._claim = LuaScript("claim_due")

    async def claim(self, now_ms: int, limit: int, lease_ms: int) -> list[str]:
        """Claim up to ``limit`` due checks (members like ``cart:<customer>``)."""
        members = await self._claim.run(
            self._client, [self._keys.due(), self._keys.inflight()], [now_ms, limit, lease_ms]
        )
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    async def settle(self, settlement: Settlement, counters: Mapping[str, int]) -> None:
        """Re-arm checks, release leases and add the engine counters: one pipeline."""
        keys = self._keys
        pipe = self._client.pipeline(transaction=False)
        for name, n in counters.items():
            if n:
                pipe.hincrby(keys.stats(), name, n)
        released = [*settlement.finished, *settlement.rescheduled]
        if released:
            pipe.zrem(keys.inflight(), *released)
        if settlement.rescheduled:
            pipe.zadd(keys.due(), settlement.rescheduled, gt=True)
        await pipe.execute()

    async def overdue(self, due_before_ms: int) -> int:
        """Checks still waiting that were due before ``due_before_ms``."""
        return int(await self._client.zcount(self._keys.due(), "-inf", due_before_ms))

    async def depth(self) -> tuple[int, int]:
        """(scheduled, in flight) counts, for progress and metrics."""
        pipe = self._client.pipeline(transaction=False)
        pipe.zcard(self._keys.due())
        pipe.zcard(self._keys.inflight())
        due, inflight = await pipe.execute()
        return int(due), int(inflight)
