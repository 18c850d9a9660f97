"""Durable scheduled checks in Redis: a due-time sorted set drained by leases.

A check is claimed (moved to ``inflight`` with a lease), evaluated, and
settled; a worker that dies mid-way leaves the lease to expire and another
claim picks the check up again. Handlers make their own effects idempotent
(``DecisionStore`` remembers sent decision ids). Claiming also says when the
next check falls due, so the worker's timer sleeps exactly that long.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from stream_app.storage.client import RedisClient
from stream_app.storage.commit import Writes
from stream_app.storage.layout import Check, Keys, check_member, parse_check
from stream_app.storage.scripts import Arg, LuaScript, run_scripts

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
        """Claim about ``limit`` due checks (members like ``cart:<customer>``): from every
        shard in one round, up to ``limit / shards`` (rounded up) each."""
        keys = self._keys
        each = max(1, -(-limit // keys.shards))
        calls = [
            self._claim.call([keys.due(shard), keys.inflight(shard)], [now_ms, each, lease_ms])
            for shard in range(keys.shards)
        ]
        due: dict[str, int] = {}
        nexts = []
        for flat, next_ms in await run_scripts(self._client, calls):
            due |= {_text(flat[i]): int(float(flat[i + 1])) for i in range(0, len(flat), 2)}
            if next_ms is not None:
                nexts.append(int(next_ms))
        return Claimed(due, min(nexts, default=None))

    def arm(self, writes: Writes, checks: Mapping[str, int], keep: Keep) -> None:
        """Schedule ``checks`` (member -> due ms) in their customers' shards; ``keep`` says
        which time wins against one already scheduled: NX the existing, GT the later, LT
        the earlier."""
        for shard, mine in self._by_shard(checks).items():
            pairs: list[Arg] = [part for member in mine for part in (checks[member], member)]
            writes.add("ZADD", self._keys.due(shard), keep, *pairs)

    def settle(self, writes: Writes, settlement: Settlement) -> None:
        """Re-arm checks and release their leases."""
        released: Sequence[str] = [*settlement.finished, *settlement.rescheduled]
        for shard, mine in self._by_shard(released).items():
            writes.add("ZREM", self._keys.inflight(shard), *mine)
        self.arm(writes, settlement.rescheduled, "GT")

    def backfilled(self, writes: Writes, customers: Sequence[str], now_ms: int) -> None:
        """Remember the customers a history pass applied events to: none of their checks
        is armed by history, the cut-over arms them (``cut_over``)."""
        keys = self._keys
        shards: dict[int, list[str]] = {}
        for cid in customers:
            shards.setdefault(keys.shard(cid), []).append(cid)
        for shard, mine in shards.items():
            pairs: list[Arg] = [part for cid in mine for part in (now_ms, cid)]
            writes.add("ZADD", keys.backfilled(shard), "NX", *pairs)

    def _by_shard(self, members: Iterable[str]) -> dict[int, list[str]]:
        """Check members by the shard of their customer (members of unknown kinds: 0)."""
        shards: dict[int, list[str]] = {}
        for member in members:
            check = parse_check(member)
            shard = self._keys.shard(check.customer_id) if check is not None else 0
            shards.setdefault(shard, []).append(member)
        return shards

    async def cut_over(self, start_ms: int, per_minute: int, chunk: int = 1000) -> CutOver:
        """Arm every backfilled customer's segment check (segments and time-based
        campaigns), one customer per slot from ``start_ms``, ``per_minute`` slots a
        minute, after any slot an earlier cut-over took; each customer is forgotten as
        armed (atomically, ``chunk`` at a time), so a second run arms nobody again. Each
        schedule shard takes every ``shards``-th slot (its own interleaved time line),
        all shards a round."""
        keys = self._keys
        member = check_member(Check("seg", "%s"))
        interval = slot_interval_ms(per_minute)
        done = CutOver()
        shards = list(range(keys.shards))
        while shards:
            calls = [
                self._cutover.call(
                    [keys.backfilled(shard), keys.due(shard), keys.cutover(shard)],
                    [int(start_ms + shard * interval), repr(interval * keys.shards), chunk, member],
                )
                for shard in shards
            ]
            answers = await run_scripts(self._client, calls)
            for armed, first, last, _ in answers:
                if armed:
                    first_ms = min(done.first_ms or int(first), int(first))
                    done = CutOver(
                        done.armed + int(armed), first_ms, max(done.last_ms or 0, int(last))
                    )
            shards = [shard for shard, answer in zip(shards, answers, strict=True) if answer[3]]
        return done

    async def overdue(self, due_before_ms: int) -> int:
        """Checks still waiting that were due before ``due_before_ms``."""
        return sum(
            await self._each_shard(lambda p, s: p.zcount(self._keys.due(s), "-inf", due_before_ms))
        )

    async def depth(self) -> tuple[int, int]:
        """(scheduled, in flight) counts, for progress and metrics."""
        keys = self._keys
        due = await self._each_shard(lambda p, s: p.zcard(keys.due(s)))
        inflight = await self._each_shard(lambda p, s: p.zcard(keys.inflight(s)))
        return sum(due), sum(inflight)

    async def _each_shard(self, ask: Callable[[Any, int], object]) -> list[int]:
        """One command per shard, pipelined (a cluster client splits it by node)."""
        pipe = self._client.pipeline(transaction=False)
        for shard in range(self._keys.shards):
            ask(pipe, shard)
        return [int(n) for n in await pipe.execute()]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
