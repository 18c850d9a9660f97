"""Drains due checks from Redis and turns them into decisions on Kafka.

Order of effects, so a crash anywhere loses nothing and emits nothing twice
(as far as the broker allows): claim with a lease -> read state -> skip
decisions already emitted -> publish and wait for the broker's ack -> record
them as emitted and release the lease. A crash before the last step lets the
lease expire; the retry recomputes the same deterministic decision id.
"""

from __future__ import annotations

import logging
from collections import Counter

from stream_app.clock import Clock, to_ms
from stream_app.decisions.cart_abandonment import (
    CartPolicy,
    Emit,
    Reschedule,
    Suppress,
    judge_cart,
)
from stream_app.events.encode import encode
from stream_app.storage.profiles import ProfileStore
from stream_app.storage.schedule import ScheduleStore, Settlement
from stream_app.storage.stats import StatsStore
from stream_app.streaming.publisher import OutRecord, Publisher
from stream_app.streaming.retry import RedisRetry

log = logging.getLogger(__name__)

CART_PREFIX = "cart:"


class CartScheduler:
    def __init__(
        self,
        *,
        policy: CartPolicy,
        decisions_topic: str,
        batch: int,
        lease_ms: int,
        profiles: ProfileStore,
        schedule: ScheduleStore,
        stats: StatsStore,
        publisher: Publisher,
        clock: Clock,
        retry: RedisRetry,
    ) -> None:
        self._policy = policy
        self._topic = decisions_topic
        self._batch = batch
        self._lease_ms = lease_ms
        self._profiles = profiles
        self._schedule = schedule
        self._stats = stats
        self._publisher = publisher
        self._clock = clock
        self._retry = retry

    async def tick(self) -> Counter[str]:
        """Handle every check due now (in batches); returns what happened."""
        total: Counter[str] = Counter()
        while True:
            counters = await self._tick_once()
            total.update(counters)
            if counters["checks_claimed"] < self._batch:
                return total

    async def _tick_once(self) -> Counter[str]:
        now = self._clock()
        now_ms = to_ms(now)
        claimed = await self._retry(
            lambda: self._schedule.claim(now_ms, self._batch, self._lease_ms)
        )
        counters: Counter[str] = Counter(checks_claimed=len(claimed))
        if not claimed:
            return counters
        settlement = Settlement()
        customers = [m.removeprefix(CART_PREFIX) for m in claimed if m.startswith(CART_PREFIX)]
        settlement.finished.extend(m for m in claimed if not m.startswith(CART_PREFIX))
        channel = self._policy.channel
        snapshots = await self._retry(lambda: self._profiles.cart_snapshots(customers, channel))
        emits = []
        for snapshot in snapshots:
            member = CART_PREFIX + snapshot.customer_id
            match judge_cart(snapshot, self._policy, now):
                case Emit(decision):
                    emits.append(decision)
                    settlement.finished.append(member)
                case Reschedule(due_ms):
                    settlement.rescheduled[member] = due_ms
                    counters["checks_rescheduled"] += 1
                case Suppress(reason):
                    settlement.finished.append(member)
                    counters[f"decisions_suppressed:{reason}"] += 1
        pairs = [(d.customer_id, d.decision_id) for d in emits]
        seen = await self._retry(lambda: self._schedule.already_emitted(pairs))
        fresh = [d for d, was_seen in zip(emits, seen, strict=True) if not was_seen]
        counters["decisions_deduplicated"] += len(emits) - len(fresh)
        if fresh:
            await self._publisher.publish(
                [OutRecord(self._topic, d.customer_id.encode(), encode(d)) for d in fresh]
            )
            settlement.emitted.extend((d.customer_id, d.decision_id) for d in fresh)
            counters[f"decisions_emitted:{fresh[0].campaign_id}"] += len(fresh)
            counters["decisions_emitted"] += len(fresh)
        await self._retry(lambda: self._schedule.settle(settlement, now_ms))
        await self._retry(lambda: self._stats.add(counters))
        return counters
