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

from stream_app.storage.client import RedisClient
from stream_app.storage.commit import Writes
from stream_app.storage.layout import Check, Keys, check_member
from stream_app.storage.scripts import Arg, LuaScript

#: How a new due time combines with one already scheduled for the same check.
Keep = Literal["NX", "GT", "LT"]


@dataclass(frozen=True, slots=True)
class Claimed:
    """Checks claimed now (member -> due ms), and the earliest due time left, if any."""

    due: dict[str, int]
    next_ms: int | None


@dataclass(frozen=True, slots=True)
class CutOver:
    """What a cut-over armed: how many customers' checks, from and to which slot (ms)."""

    armed: int = 0
    first_ms: int | None = None
    last_ms: int | None = None


def slot_interval_ms(per_minute: int) -> float:
    """How far apart the cut-over's slots are: ``per_minute`` slots span a minute and half
    a slot, so a timer late by up to half a slot still runs at most ``per_minute`` of
    them in any minute.

    >>> round(slot_interval_ms(60), 1), round(slot_interval_ms(600), 2)
    (1008.4, 100.08)
    """
    return 60_000 / (per_minute - 0.5)


@dataclass
class Settlement:
    """How claimed checks ended: re-armed checks and finished ones."""

    finished: list[str] = field(default_factory=list)
    rescheduled: dict[str, int] = field(default_factory=dict)


class ScheduleStore:
    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._claim = LuaScript("claim_due")
        self._cutover = LuaScript("cutover")

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

    def backfilled(self, writes: Writes, customers: Sequence[str], now_ms: int) -> None:
        """Remember the customers a history pass applied events to: none of their checks
        is armed by history, the cut-over arms them (``cut_over``)."""
        if customers:
            pairs: list[Arg] = [part for cid in customers for part in (now_ms, cid)]
            writes.add("ZADD", self._keys.backfilled(), "NX", *pairs)

    async def cut_over(self, start_ms: int, per_minute: int, chunk: int = 1000) -> CutOver:
        """Arm every backfilled customer's segment check (segments and time-based
        campaigns), one customer per slot from ``start_ms``, ``per_minute`` slots a
        minute, after any slot an earlier cut-over took; each customer is forgotten as
        armed (atomically, ``chunk`` at a time), so a second run arms nobody again."""
        keys = self._keys
        member = check_member(Check("seg", "%s"))
        interval = slot_interval_ms(per_minute)
        done = CutOver()
        while True:
            armed, first, last, left = await self._cutover.run(
                self._client,
                [keys.backfilled(), keys.due(), keys.cutover()],
                [start_ms, repr(interval), chunk, member],
            )
            if armed:
                done = CutOver(done.armed + int(armed), done.first_ms or int(first), int(last))
            if not left:
                return done

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
