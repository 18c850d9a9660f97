"""Durable scheduled checks in Redis: a due-time sorted set drained by leases.

A check is claimed (moved to ``inflight`` with a lease), evaluated, and
settled; a worker that dies mid-way leaves the lease to expire and another
claim picks the check up again. Handlers make their own effects idempotent
(``DecisionStore`` remembers sent decision ids). Claiming also says when the
next check falls due, so the worker's timer sleeps exactly that long.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from redis.asyncio import Redis

from stream_app.storage.commit import Writes
from stream_app.storage.layout import Keys
from stream_app.storage.scripts import Arg, LuaScript

#: How a new due time combines with one already scheduled for the same check.
Keep = Literal["NX", "GT", "LT"]


@dataclass(frozen=True, slots=True)
class Claimed:
    """Checks claimed now (member -> due ms), and the earliest due time left, if any."""

    due: dict[str, int]
    next_ms: int | None


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

    async def claim(self, now_ms: int, limit: int, lease_ms: int) -> Claimed:
        """Claim up to ``limit`` due checks (members like ``cart:<customer>``)."""
        flat, next_ms = await self._claim.run(
            self._client, [self._keys.due(), self._keys.inflight()], [now_ms, limit, lease_ms]
        )
        due = {_text(flat[i]): int(float(flat[i + 1])) for i in range(0, len(flat), 2)}
        return Claimed(due, None if next_ms is None else int(next_ms))

    def arm(self, writes: Writes, checks: Mapping[str, int], keep: Keep) -> None:
        """Schedule ``checks`` (member -> due ms); ``keep`` says which time wins against one
        already scheduled: NX the existing, GT the later, LT the earlier."""
        if checks:
            pairs: list[Arg] = [part for member, ms in checks.items() for part in (ms, member)]
            writes.add("ZADD", self._keys.due(), keep, *pairs)

    def settle(self, writes: Writes, settlement: Settlement) -> None:
        """Re-arm checks and release their leases."""
        released: Sequence[str] = [*settlement.finished, *settlement.rescheduled]
        if released:
            writes.add("ZREM", self._keys.inflight(), *released)
        self.arm(writes, settlement.rescheduled, "GT")

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


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
