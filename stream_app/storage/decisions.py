"""Planned decisions, contact history, conversion windows and lift counts in Redis.

A planned decision waits in the customer's ``pending`` hash with a ``send:``
check in the schedule at its send time. When the check runs, the decision is
sent (or recorded for its holdout, or dropped with a reason) and moves to the
``contacts`` history (treated only: holdouts contacted no one) and to an open
conversion window. Every write is idempotent (sets keyed by decision id), so a
check or a batch that runs twice after a crash changes nothing the second time.

Lift counts are one hash field per decision, ``<arm>|<stratum>|<0 or 1>``:
written once when the decision is sent or held out, overwritten with 1 when a
goal event converts it; a report sums them. Idempotent by construction, unlike
counters, and small (one field per decision, expiring with the campaign key).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from redis.asyncio import Redis

from stream_app.clock import from_ms, to_ms
from stream_app.decisions.lift import Arm, CampaignLift, Stratum, campaign_lift
from stream_app.decisions.policies import Sent
from stream_app.events.decision import Decision
from stream_app.storage.keys import Keys

SEND_PREFIX = "send"
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


@dataclass(frozen=True, slots=True)
class Window:
    """An open conversion window of a sent (or held-out) decision."""

    decision_id: str
    campaign_id: str
    arm: str
    stratum: str
    goal: str
    start_ms: int
    end_ms: int


def send_member(customer_id: str, decision_id: str) -> str:
    """Schedule member of a decision's send check.

    >>> send_member("c-1", "dec-1")
    'send:c-1|dec-1'
    """
    return f"{SEND_PREFIX}:{customer_id}|{decision_id}"


class DecisionStore:
    def __init__(self, client: Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    async def history(self, customers: Sequence[str], now: datetime) -> list[list[Sent]]:
        """Per customer: messages sent in the last ``HISTORY`` and those still planned
        (at their send time), as the policies count them."""
        if not customers:
            return []
        since = to_ms(now - HISTORY)
        pipe = self._client.pipeline(transaction=False)
        for customer in customers:
            pipe.zremrangebyscore(self._keys.contacts(customer), "-inf", since)
            pipe.zrange(self._keys.contacts(customer), 0, -1, withscores=True)
            pipe.hvals(self._keys.pending(customer))
        raw = await pipe.execute()
        out: list[list[Sent]] = []
        for index in range(len(customers)):
            contacts, pending = raw[3 * index + 1], raw[3 * index + 2]
            sent = []
            for member, score in contacts:
                did, campaign, channel = _text(member).split("|", 2)
                sent.append(Sent(did, campaign, channel, from_ms(int(score))))
            for blob in pending:
                d = PendingDecision.from_json(blob).decision
                sent.append(Sent(d.decision_id, d.campaign_id, d.channel, d.send_at))
            out.append(sent)
        return out

    async def known(self, pairs: Sequence[tuple[str, str]]) -> list[bool]:
        """For each (customer, decision id): already planned or already sent."""
        if not pairs:
            return []
        pipe = self._client.pipeline(transaction=False)
        for customer, did in pairs:
            pipe.hexists(self._keys.pending(customer), did)
            pipe.hexists(self._keys.sent(customer), did)
        flags = await pipe.execute()
        return [bool(flags[2 * i] or flags[2 * i + 1]) for i in range(len(pairs))]

    async def schedule(self, planned: Sequence[PendingDecision], ttl: timedelta) -> None:
        """Keep each decision until its send check runs; never moves an existing check."""
        if not planned:
            return
        pipe = self._client.pipeline(transaction=False)
        due: dict[str, int] = {}
        for item in planned:
            d = item.decision
            pipe.hset(self._keys.pending(d.customer_id), d.decision_id, item.to_json())
            pipe.expire(self._keys.pending(d.customer_id), int(ttl.total_seconds()))
            due[send_member(d.customer_id, d.decision_id)] = to_ms(d.send_at)
        pipe.zadd(self._keys.due(), due, nx=True)
        await pipe.execute()

    async def load(self, pairs: Sequence[tuple[str, str]]) -> list[PendingDecision | None]:
        if not pairs:
            return []
        pipe = self._client.pipeline(transaction=False)
        for customer, did in pairs:
            pipe.hget(self._keys.pending(customer), did)
        raw = await pipe.execute()
        return [None if blob is None else PendingDecision.from_json(blob) for blob in raw]

    async def finish(
        self,
        sent: Sequence[PendingDecision],
        dropped: Sequence[tuple[str, str]],
        now: datetime,
        sent_ttl: timedelta,
    ) -> None:
        """Record sent and held-out decisions (history, dedupe, conversion window, lift),
        and forget dropped ones (customer, decision id)."""
        keys = self._keys
        now_ms = to_ms(now)
        pipe = self._client.pipeline(transaction=False)
        for item in sent:
            d = item.decision
            arm = "holdout" if d.holdout else "treated"
            if not d.holdout:
                member = f"{d.decision_id}|{d.campaign_id}|{d.channel}"
                pipe.zadd(keys.contacts(d.customer_id), {member: now_ms})
                pipe.expire(keys.contacts(d.customer_id), int(HISTORY.total_seconds()))
            pipe.hset(keys.sent(d.customer_id), d.decision_id, now_ms)
            pipe.expire(keys.sent(d.customer_id), int(sent_ttl.total_seconds()))
            window = {
                "c": d.campaign_id,
                "a": arm,
                "s": item.stratum,
                "g": item.goal,
                "from": now_ms,
                "to": now_ms + int(item.goal_window.total_seconds() * 1000),
            }
            pipe.hset(keys.attribution(d.customer_id), d.decision_id, orjson.dumps(window))
            pipe.expire(keys.attribution(d.customer_id), int(item.goal_window.total_seconds()))
            pipe.hsetnx(keys.lift(d.campaign_id), d.decision_id, f"{arm}|{item.stratum}|0")
            pipe.sadd(keys.campaigns(), d.campaign_id)
            pipe.hdel(keys.pending(d.customer_id), d.decision_id)
        for customer, did in dropped:
            pipe.hdel(keys.pending(customer), did)
        if sent or dropped:
            await pipe.execute()

    async def windows(self, customers: Sequence[str]) -> list[list[Window]]:
        """Open conversion windows per customer."""
        if not customers:
            return []
        pipe = self._client.pipeline(transaction=False)
        for customer in customers:
            pipe.hgetall(self._keys.attribution(customer))
        out = []
        for raw in await pipe.execute():
            windows = []
            for did, blob in raw.items():
                w = orjson.loads(blob)
                windows.append(
                    Window(_text(did), w["c"], w["a"], w["s"], w["g"], w["from"], w["to"])
                )
            out.append(windows)
        return out

    async def convert(self, converted: Sequence[tuple[str, Window]]) -> None:
        """Mark decisions converted (idempotent: the same field, the same value)."""
        if not converted:
            return
        pipe = self._client.pipeline(transaction=False)
        for customer, w in converted:
            pipe.hset(self._keys.lift(w.campaign_id), w.decision_id, f"{w.arm}|{w.stratum}|1")
            pipe.hdel(self._keys.attribution(customer), w.decision_id)
        await pipe.execute()

    async def lift_strata(self) -> dict[str, list[Stratum]]:
        """Per campaign: treated and holdout decisions and conversions, by stratum (tier)."""
        campaigns = sorted(_text(c) for c in await self._client.smembers(self._keys.campaigns()))
        out: dict[str, list[Stratum]] = {}
        for campaign in campaigns:
            counts: Counter[tuple[str, str, bool]] = Counter()
            async for _, value in self._client.hscan_iter(self._keys.lift(campaign)):
                arm, stratum, flag = _text(value).rsplit("|", 2)
                counts[(arm, stratum, flag == "1")] += 1
            strata = sorted({stratum for _, stratum, _ in counts})
            out[campaign] = [
                Stratum(
                    stratum,
                    *(
                        Arm(
                            counts[(arm, stratum, False)] + counts[(arm, stratum, True)],
                            counts[(arm, stratum, True)],
                        )
                        for arm in ("treated", "holdout")
                    ),
                )
                for stratum in strata
            ]
        return out

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
        sent = []
        for member, score in contacts:
            did, campaign, channel = _text(member).split("|", 2)
            sent.append(Sent(did, campaign, channel, from_ms(int(score))))
        return planned, sent

    async def lifts(self) -> list[CampaignLift]:
        """Every campaign's lift from the counts (``stream-app report lift``, the API)."""
        strata = await self.lift_strata()
        return [campaign_lift(campaign, rows) for campaign, rows in strata.items() if rows]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
