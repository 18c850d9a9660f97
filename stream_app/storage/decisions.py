"""Planned decisions, contact history, conversion windows and lift counts in Redis.

A planned decision waits in the customer's ``pending`` hash with a ``send:``
check in the schedule at its send time (or is sent in the pass that made it, when
its time is now). When the check runs, the decision is
sent (or recorded for its holdout, or dropped with a reason) and moves to the
``contacts`` history (treated only: holdouts contacted no one) and to an open
conversion window. Every write is idempotent (sets keyed by decision id), so a
check or a batch that runs twice after a crash changes nothing the second time.
Writes go into the pass's ``Writes`` (one script call); reads of a pass come from
``storage.customers``, the other reads (the API's) are here.

Lift is counted per campaign and cell (arm, stratum): decisions and conversions
(``Keys.lift_cells``), so a report reads a few counts per campaign, never its
decisions. Each decision keeps one field in its campaign's record (``Keys.lift``,
``<arm>|<stratum>|<0 or 1>``): the counts move only when that field changes, from
absent to 0 (recorded) or from 0 to 1 (converted), in the same atomic commit
(``Writes.add_if``), so a redelivered batch or two racing workers count a decision
and its conversion once. The record also rebuilds the counts (``lua/lift_rebuild.lua``):
once per campaign on the first read after an upgrade, or on demand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from stream_app.clock import from_ms, to_ms
from stream_app.decisions.attribution import Window
from stream_app.decisions.lift import Arm, CampaignLift, Stratum, campaign_lift, strata_of
from stream_app.decisions.policies import Sent
from stream_app.events.decision import Decision
from stream_app.storage.client import RedisClient
from stream_app.storage.commit import Writes
from stream_app.storage.layout import (
    Check,
    Keys,
    check_member,
    contact_member,
    parse_contact_member,
    settled_value,
)
from stream_app.storage.lift_fields import LIFT_BUILT, lift_cell, lift_value, parse_lift_cell
from stream_app.storage.scripts import Arg, LuaScript, run_scripts

#: Contact history kept for caps and cooldowns (a week of caps, plus slack).
HISTORY = timedelta(days=8)


@dataclass(frozen=True, slots=True)
class PendingDecision:
    """A planned decision and what measuring it needs."""

    decision: Decision
    stratum: str
    goal: str
    goal_window: timedelta
    trigger_at: datetime
    cooldown: timedelta

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "d": self.decision.model_dump(mode="json"),
                "s": self.stratum,
                "g": self.goal,
                "w": int(self.goal_window.total_seconds()),
                "t": to_ms(self.trigger_at),
                "c": int(self.cooldown.total_seconds()),
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> PendingDecision:
        data: dict[str, Any] = orjson.loads(raw)
        return cls(
            Decision.model_validate(data["d"]),
            data["s"],
            data["g"],
            timedelta(seconds=int(data["w"])),
            from_ms(int(data["t"])),
            timedelta(seconds=int(data["c"])),
        )


def parse_window(decision_id: str, blob: str | bytes) -> Window:
    """A stored conversion window (``attr`` hash field and value)."""
    w = orjson.loads(blob)
    return Window(decision_id, w["c"], w["a"], w["s"], w["g"], w["from"], w["to"])


def parse_contact(member: str, at: datetime) -> Sent:
    """A contact history entry (``layout.contact_member``) sent at ``at``."""
    return Sent(*parse_contact_member(member), at)


class DecisionStore:
    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._rebuild = LuaScript("lift_rebuild")

    def schedule(self, writes: Writes, planned: Sequence[PendingDecision], ttl: timedelta) -> None:
        """Keep each decision until its send check runs; never moves an existing check."""
        keys = self._keys
        due: dict[int, list[Arg]] = {}
        for item in planned:
            d = item.decision
            pending = keys.pending(d.customer_id)
            writes.add("HSET", pending, d.decision_id, item.to_json())
            writes.add("EXPIRE", pending, int(ttl.total_seconds()))
            member = check_member(Check("send", d.customer_id, d.decision_id))
            due.setdefault(keys.shard(d.customer_id), []).extend((to_ms(d.send_at), member))
        for shard, pairs in due.items():
            writes.add("ZADD", keys.due(shard), "NX", *pairs)

    def finish(
        self,
        writes: Writes,
        sent: Sequence[PendingDecision],
        dropped: Sequence[tuple[str, str]],
        now: datetime,
        sent_ttl: timedelta,
    ) -> None:
        """Record sent and held-out decisions (history, dedupe, conversion window, lift),
        and forget dropped ones (customer, decision id)."""
        keys = self._keys
        now_ms = to_ms(now)
        for item in sent:
            d = item.decision
            cid = d.customer_id
            arm = "holdout" if d.holdout else "treated"
            if not d.holdout:
                member = contact_member(d.decision_id, d.campaign_id, d.channel)
                writes.add("ZADD", keys.contacts(cid), now_ms, member)
                writes.add("ZREMRANGEBYSCORE", keys.contacts(cid), "-inf", to_ms(now - HISTORY))
                writes.add("EXPIRE", keys.contacts(cid), int(HISTORY.total_seconds()))
            writes.add("HSET", keys.sent(cid), d.decision_id, now_ms)
            writes.add("EXPIRE", keys.sent(cid), int(sent_ttl.total_seconds()))
            window = {
                "c": d.campaign_id,
                "a": arm,
                "s": item.stratum,
                "g": item.goal,
                "from": now_ms,
                "to": now_ms + int(item.goal_window.total_seconds() * 1000),
            }
            writes.add("HSET", keys.attribution(cid), d.decision_id, orjson.dumps(window))
            writes.add("EXPIRE", keys.attribution(cid), int(item.goal_window.total_seconds()))
            writes.add_if(
                keys.lift(d.campaign_id),
                d.decision_id,
                "",
                lift_value(arm, item.stratum, False),
                "HINCRBY",
                keys.lift_cells(d.campaign_id),
                lift_cell("n", arm, item.stratum),
                1,
            )
            writes.add("SADD", keys.campaigns(), d.campaign_id)
            writes.add("HDEL", keys.pending(cid), d.decision_id)
        for customer, did in dropped:
            writes.add("HDEL", keys.pending(customer), did)

    def settle(
        self, writes: Writes, customer_id: str, settled: Mapping[str, str], ttl: timedelta
    ) -> None:
        """Remember trigger occurrences answered without a message (decision id -> why),
        beside the sent ones: an occurrence seen again is a duplicate, not planned again."""
        if settled:
            key = self._keys.sent(customer_id)
            writes.add(
                "HSET",
                key,
                *(part for did, why in settled.items() for part in (did, settled_value(why))),
            )
            writes.add("EXPIRE", key, int(ttl.total_seconds()))

    def convert(self, writes: Writes, converted: Sequence[tuple[str, Window]]) -> None:
        """Mark decisions converted and count them, once: a decision counts when its record
        goes from unconverted to converted (a recorded decision only)."""
        for customer, w in converted:
            writes.add_if(
                self._keys.lift(w.campaign_id),
                w.decision_id,
                lift_value(w.arm, w.stratum, False),
                lift_value(w.arm, w.stratum, True),
                "HINCRBY",
                self._keys.lift_cells(w.campaign_id),
                lift_cell("c", w.arm, w.stratum),
                1,
            )
            writes.add("HDEL", self._keys.attribution(customer), w.decision_id)

    async def lift_strata(self, rebuild: bool = False) -> dict[str, list[Stratum]]:
        """Per campaign: treated and holdout decisions and conversions, by stratum (tier),
        from the counts (one script call per campaign, in one round trip). Counts not yet
        built are first recounted from the decisions, as all are with ``rebuild``."""
        keys = self._keys
        campaigns = sorted(_text(c) for c in await self._client.smembers(keys.campaigns()))
        calls = [
            self._rebuild.call([keys.lift(c), keys.lift_cells(c)], [LIFT_BUILT, int(rebuild)])
            for c in campaigns
        ]
        answers = await run_scripts(self._client, calls)
        return {c: strata_of(_cells(flat)) for c, flat in zip(campaigns, answers, strict=True)}

    async def of_customer(
        self, customer_id: str, now: datetime, recent: int = 100
    ) -> tuple[list[PendingDecision], list[Sent]]:
        """A customer's planned decisions (by send time) and up to ``recent`` messages
        sent within ``HISTORY`` (newest first). Read only, unlike ``history``."""
        pipe = self._client.pipeline(transaction=False)
        pipe.hvals(self._keys.pending(customer_id))
        pipe.zrevrangebyscore(
            self._keys.contacts(customer_id),
            "+inf",
            to_ms(now - HISTORY),
            start=0,
            num=recent,
            withscores=True,
        )
        pending, contacts = await pipe.execute()
        planned = sorted(
            (PendingDecision.from_json(blob) for blob in pending),
            key=lambda p: (p.decision.send_at, p.decision.decision_id),
        )
        sent = [parse_contact(_text(member), from_ms(int(score))) for member, score in contacts]
        return planned, sent

    async def lifts(self, rebuild: bool = False) -> list[CampaignLift]:
        """Every campaign's lift from the counts (``stream-app report lift``, the API)."""
        strata = await self.lift_strata(rebuild)
        return [campaign_lift(campaign, rows) for campaign, rows in strata.items() if rows]


def _cells(flat: Sequence[bytes]) -> dict[tuple[str, str], Arm]:
    """The arms counted in a campaign's lift counts hash (flat: field, count, ...)."""
    counts: dict[tuple[str, str], list[int]] = {}
    for field, count in zip(flat[::2], flat[1::2], strict=True):
        if cell := parse_lift_cell(_text(field)):
            measure, arm, stratum = cell
            counts.setdefault((arm, stratum), [0, 0])[measure == "c"] += int(count)
    return {cell: Arm(n, conversions) for cell, (n, conversions) in counts.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
