"""Drains due checks from Redis: cart reminders and segment evaluations.

Order of effects, so a crash anywhere loses nothing: claim with a lease ->
read state -> publish and wait for the broker's ack -> record the result and
release the lease. A crash before the last step lets the lease expire and the
check runs again; cart decisions keep their deterministic id and are skipped
once recorded as emitted.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from stream_app.clock import Clock, to_ms
from stream_app.decisions.cart_abandonment import (
    CartPolicy,
    Emit,
    Reschedule,
    Suppress,
    judge_cart,
)
from stream_app.events.decision import Decision
from stream_app.events.encode import encode
from stream_app.events.segment import SegmentChange
from stream_app.profiles.derive import ValueRules, derive
from stream_app.segments.rules import SegmentRules
from stream_app.storage.profiles import ProfileStore
from stream_app.storage.schedule import ScheduleStore, Settlement
from stream_app.storage.scoring import Scored, ScoringStore
from stream_app.storage.segments import MembershipChange, SegmentStore
from stream_app.storage.stats import StatsStore
from stream_app.streaming.learning import Learner
from stream_app.streaming.publisher import OutRecord, Publisher
from stream_app.streaming.retry import RedisRetry

log = logging.getLogger(__name__)

ChangeKind = Literal["segment.entered", "segment.exited"]


@dataclass
class Handled:
    """What a handler did with its customers' checks (customer ids, not members)."""

    finished: list[str] = field(default_factory=list)
    rescheduled: dict[str, int] = field(default_factory=dict)
    emitted: list[tuple[str, str]] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)
    #: New checks to schedule, by full member (e.g. ``label:<customer>|<decision>``).
    scheduled: dict[str, int] = field(default_factory=dict)


class CheckHandler(Protocol):
    prefix: str

    async def handle(self, customers: Sequence[str], now: datetime) -> Handled:
        """Run the due checks of ``customers``; effects must be published before returning."""


class Scheduler:
    """Claims due checks and dispatches them by member prefix (``cart:``, ``seg:``)."""

    def __init__(
        self,
        handlers: Sequence[CheckHandler],
        *,
        schedule: ScheduleStore,
        stats: StatsStore,
        batch: int,
        lease_ms: int,
        clock: Clock,
        retry: RedisRetry,
    ) -> None:
        self._handlers = {handler.prefix: handler for handler in handlers}
        self._schedule = schedule
        self._stats = stats
        self._batch = batch
        self._lease_ms = lease_ms
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
        by_prefix: dict[str, list[str]] = defaultdict(list)
        settlement = Settlement()
        for member in claimed:
            prefix, _, customer = member.partition(":")
            if prefix in self._handlers:
                by_prefix[prefix].append(customer)
            else:
                settlement.finished.append(member)
        for prefix, customers in by_prefix.items():
            handled = await self._handlers[prefix].handle(customers, now)
            settlement.finished.extend(f"{prefix}:{c}" for c in handled.finished)
            settlement.rescheduled.update(
                {f"{prefix}:{c}": due for c, due in handled.rescheduled.items()}
            )
            settlement.emitted.extend(handled.emitted)
            settlement.rescheduled.update(handled.scheduled)
            counters.update(handled.counters)
        await self._retry(lambda: self._schedule.settle(settlement, now_ms))
        await self._retry(lambda: self._stats.add(counters))
        return counters


class CartReminders:
    """``cart:`` checks: remind about an idle cart, once per trigger."""

    prefix = "cart"

    def __init__(
        self,
        policy: CartPolicy,
        decisions_topic: str,
        profiles: ProfileStore,
        schedule: ScheduleStore,
        publisher: Publisher,
        retry: RedisRetry,
        scorer: DecisionScorer | None = None,
    ) -> None:
        self._policy = policy
        self._topic = decisions_topic
        self._profiles = profiles
        self._schedule = schedule
        self._publisher = publisher
        self._retry = retry
        self._scorer = scorer

    async def handle(self, customers: Sequence[str], now: datetime) -> Handled:
        handled = Handled()
        channel = self._policy.channel
        snapshots = await self._retry(lambda: self._profiles.cart_snapshots(customers, channel))
        emits = []
        for snapshot in snapshots:
            match judge_cart(snapshot, self._policy, now):
                case Emit(decision):
                    emits.append(decision)
                    handled.finished.append(snapshot.customer_id)
                case Reschedule(due_ms):
                    handled.rescheduled[snapshot.customer_id] = due_ms
                    handled.counters["checks_rescheduled"] += 1
                case Suppress(reason):
                    handled.finished.append(snapshot.customer_id)
                    handled.counters[f"decisions_suppressed:{reason}"] += 1
        pairs = [(d.customer_id, d.decision_id) for d in emits]
        seen = await self._retry(lambda: self._schedule.already_emitted(pairs))
        fresh = [d for d, was_seen in zip(emits, seen, strict=True) if not was_seen]
        handled.counters["decisions_deduplicated"] += len(emits) - len(fresh)
        if fresh and self._scorer is not None:
            fresh = await self._scorer.score(fresh, now, handled)
        if fresh:
            await self._publisher.publish(
                [OutRecord(self._topic, d.customer_id.encode(), encode(d)) for d in fresh]
            )
            handled.emitted.extend((d.customer_id, d.decision_id) for d in fresh)
            handled.counters[f"decisions_emitted:{fresh[0].campaign_id}"] += len(fresh)
            handled.counters["decisions_emitted"] += len(fresh)
        return handled


class DecisionScorer:
    """Chooses each decision's offer, scores it and remembers what was scored.

    Only decision candidates are scored, never raw events. The features are
    stored under the decision id and a ``label:`` check is scheduled at the end
    of the attribution window, when no click means a negative label.
    """

    def __init__(
        self,
        learner: Learner,
        value_rules: ValueRules,
        attribution_window: timedelta,
        profiles: ProfileStore,
        scoring: ScoringStore,
        retry: RedisRetry,
    ) -> None:
        self._learner = learner
        self._value_rules = value_rules
        self._window_ms = int(attribution_window.total_seconds() * 1000)
        self._profiles = profiles
        self._scoring = scoring
        self._retry = retry

    async def score(
        self, decisions: Sequence[Decision], now: datetime, handled: Handled
    ) -> list[Decision]:
        stored = await self._retry(
            lambda: self._profiles.stored([d.customer_id for d in decisions])
        )
        scored: list[Decision] = []
        remembered: list[Scored] = []
        for decision, profile in zip(decisions, stored, strict=True):
            view = derive(profile, now, self._value_rules)
            category = decision.content.items[-1].category if decision.content.items else None
            try:
                choice = self._learner.choose(
                    view, decision.campaign_id, decision.channel, category, now
                )
            except Exception:  # a scoring fault must not hold back the message itself
                log.exception("scoring decision %s failed", decision.decision_id)
                handled.counters["scoring_errors"] += 1
                scored.append(decision)
                continue
            scored.append(
                decision.model_copy(
                    update={
                        "content": decision.content.model_copy(update={"offer": choice.offer}),
                        "score": choice.score,
                        "propensity": choice.propensity,
                        "model_version": choice.model_version,
                    }
                )
            )
            remembered.append(
                Scored(
                    decision.customer_id,
                    decision.decision_id,
                    choice.features,
                    choice.model_version,
                    choice.score,
                    choice.context,
                    choice.offer,
                    choice.propensity,
                )
            )
            due = to_ms(now) + self._window_ms
            handled.scheduled[
                f"{LabelExpiry.prefix}:{decision.customer_id}|{decision.decision_id}"
            ] = due
        ttl_s = 2 * self._window_ms // 1000 + 3600
        await self._retry(lambda: self._scoring.remember(remembered, ttl_s))
        handled.counters["decisions_scored"] += len(scored)
        return scored


class LabelExpiry:
    """``label:`` checks: the attribution window ended; no engagement means a negative."""

    prefix = "label"

    def __init__(self, learner: Learner) -> None:
        self._learner = learner

    async def handle(self, customers: Sequence[str], now: datetime) -> Handled:
        pairs = [(member.partition("|")[0], member.partition("|")[2]) for member in customers]
        counters = await self._learner.label(pairs, engaged=False)
        return Handled(finished=list(customers), counters=counters)


class SegmentEvaluation:
    """``seg:`` checks: re-evaluate a customer's segments, publish and record changes.

    Scheduled shortly after each change to the profile (debounced) and again
    every ``refresh``, because rules over time ("within 60 days", life cycle)
    change their answer without any new event.
    """

    prefix = "seg"

    def __init__(
        self,
        rules: SegmentRules,
        value_rules: ValueRules,
        refresh: timedelta,
        segments_topic: str,
        profiles: ProfileStore,
        segments: SegmentStore,
        publisher: Publisher,
        retry: RedisRetry,
    ) -> None:
        self._rules = rules
        self._value_rules = value_rules
        self._refresh_ms = int(refresh.total_seconds() * 1000)
        self._topic = segments_topic
        self._profiles = profiles
        self._segments = segments
        self._publisher = publisher
        self._retry = retry

    async def handle(self, customers: Sequence[str], now: datetime) -> Handled:
        handled = Handled()
        stored = await self._retry(lambda: self._profiles.stored(customers))
        current = await self._retry(lambda: self._segments.memberships(customers))
        changes: list[MembershipChange] = []
        for profile, before in zip(stored, current, strict=True):
            cid = profile.customer_id
            if profile.exists:
                members, failed = self._rules.evaluate(derive(profile, now, self._value_rules))
                handled.counters["segment_rule_errors"] += len(failed)
                handled.rescheduled[cid] = to_ms(now) + self._refresh_ms
            else:  # expired or never written: leaves every segment
                members = set()
                handled.finished.append(cid)
            known = set(self._rules.names)
            entered, exited = members - before, (before - members) | (before - known)
            if entered or exited:
                changes.append(
                    MembershipChange(cid, frozenset(members), frozenset(entered), frozenset(exited))
                )
        handled.counters["segments_evaluated"] += len(stored)
        if changes:
            await self._publisher.publish(_change_records(changes, self._topic, now))
            await self._retry(lambda: self._segments.record(changes))
            handled.counters["segment_entries"] += sum(len(c.entered) for c in changes)
            handled.counters["segment_exits"] += sum(len(c.exited) for c in changes)
        return handled


def _change_records(
    changes: Sequence[MembershipChange], topic: str, now: datetime
) -> list[OutRecord]:
    records = []
    for change in changes:
        kinds: list[tuple[ChangeKind, frozenset[str]]] = [
            ("segment.entered", change.entered),
            ("segment.exited", change.exited),
        ]
        for kind, names in kinds:
            for name in sorted(names):
                event = SegmentChange.of(kind, change.customer_id, name, now)
                records.append(OutRecord(topic, change.customer_id.encode(), encode(event)))
    return records
