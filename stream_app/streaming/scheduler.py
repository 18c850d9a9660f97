"""Drains due checks from Redis: triggers (cart, profile), sends, labels, segments.

Order of effects, so a crash anywhere loses nothing: claim with a lease ->
read state -> publish and wait for the broker's ack -> record the result and
release the lease. A crash before the last step lets the lease expire and the
check runs again; decisions keep their deterministic id, so a trigger seen
again is a duplicate, and a planned decision is sent once (``SendDue``).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from stream_app.clock import Clock, to_ms
from stream_app.decisions.campaigns import BrowseAbandonment, CartAbandonment
from stream_app.decisions.cart_abandonment import cart_abandonment
from stream_app.decisions.planner import Rules, goal_time
from stream_app.decisions.policies import Allowed, Proposal, Sent, Suppressed, check
from stream_app.decisions.timing import daily_profile, prior_contributions
from stream_app.decisions.triggers import Hit, Wait, profile_hits, unique_hits
from stream_app.events.encode import encode
from stream_app.events.segment import SegmentChange
from stream_app.profiles.derive import ProfileView, ValueRules, derive
from stream_app.segments.rules import SegmentRules
from stream_app.storage.catalog import CatalogStore
from stream_app.storage.decisions import SEND_PREFIX, DecisionStore, PendingDecision
from stream_app.storage.priors import EVERYONE, PriorStore
from stream_app.storage.profiles import ProfileStore
from stream_app.storage.schedule import ScheduleStore, Settlement
from stream_app.storage.segments import MembershipChange, SegmentStore
from stream_app.streaming.decider import Decider
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
        batch: int,
        lease_ms: int,
        clock: Clock,
        retry: RedisRetry,
    ) -> None:
        self._handlers = {handler.prefix: handler for handler in handlers}
        self._schedule = schedule
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
            settlement.rescheduled.update(handled.scheduled)
            counters.update(handled.counters)
        # One pipeline: the checks' outcome and its counts are written together.
        await self._retry(lambda: self._schedule.settle(settlement, counters))
        return counters


class CartChecks:
    """``cart:`` checks: an idle cart is a trigger for the cart campaigns."""

    prefix = "cart"

    def __init__(self, decider: Decider, profiles: ProfileStore, retry: RedisRetry) -> None:
        self._decider = decider
        self._profiles = profiles
        self._retry = retry

    async def handle(self, customers: Sequence[str], now: datetime) -> Handled:
        handled = Handled()
        campaigns = self._decider.book.for_trigger("cart_abandonment")
        snapshots = await self._retry(lambda: self._profiles.cart_snapshots(customers))
        hits: list[Hit] = []
        for snapshot in snapshots:
            waits: list[datetime] = []
            for campaign in campaigns:
                assert isinstance(campaign.trigger, CartAbandonment)
                match cart_abandonment(snapshot, campaign.trigger, now):
                    case Hit() as hit:
                        hits.append(hit)
                    case Wait(due):
                        waits.append(due)
                    case str(reason):
                        handled.counters[f"triggers_none:{reason}"] += 1
            if waits:
                handled.rescheduled[snapshot.customer_id] = to_ms(min(waits))
                handled.counters["checks_rescheduled"] += 1
            else:
                handled.finished.append(snapshot.customer_id)
        handled.counters.update(await self._decider.decide(unique_hits(hits), now))
        handled.counters["triggers:cart_abandonment"] += len(hits)
        return handled


class SendDue:
    """``send:`` checks: a planned decision's time has come. Policies are checked again
    (consent, quiet hours, caps, cooldown, the goal reached meanwhile); then it is sent,
    or recorded on the audit topic for a holdout, or dropped with its reason."""

    prefix = SEND_PREFIX

    def __init__(
        self,
        decider: Decider,
        rules: Rules,
        topics: tuple[str, str],
        decisions: DecisionStore,
        publisher: Publisher,
        attribution_window: timedelta,
        sent_ttl: timedelta,
        retry: RedisRetry,
    ) -> None:
        self._decider = decider
        self._rules = rules
        self._decisions_topic, self._audit_topic = topics
        self._decisions = decisions
        self._publisher = publisher
        self._window_ms = int(attribution_window.total_seconds() * 1000)
        self._sent_ttl = sent_ttl
        self._retry = retry

    async def handle(self, members: Sequence[str], now: datetime) -> Handled:
        handled = Handled(finished=list(members))
        pairs = [(m.partition("|")[0], m.partition("|")[2]) for m in members]
        loaded = await self._retry(lambda: self._decisions.load(pairs))
        waiting = [p for p in loaded if p is not None]
        handled.counters["decisions_gone"] += len(loaded) - len(waiting)
        if not waiting:
            return handled
        customers = sorted({p.decision.customer_id for p in waiting})
        views = await self._decider.views(customers, now)
        histories = await self._retry(lambda: self._decisions.history(customers, now))
        history = dict(zip(customers, histories, strict=True))
        out: list[PendingDecision] = []
        dropped: list[tuple[str, str]] = []
        for item in waiting:
            d = item.decision
            verdict = self._recheck(item, views.get(d.customer_id), history[d.customer_id], now)
            if isinstance(verdict, Suppressed):
                dropped.append((d.customer_id, d.decision_id))
                reason = "cancelled" if verdict.reason == "goal_reached" else "suppressed"
                handled.counters[f"decisions_{reason}:{verdict.reason}"] += 1
                handled.counters[f"decisions_{reason}:{d.campaign_id}:{verdict.reason}"] += 1
                continue
            out.append(item)
        records = [
            OutRecord(
                self._audit_topic if p.decision.holdout else self._decisions_topic,
                p.decision.customer_id.encode(),
                encode(p.decision),
            )
            for p in out
        ]
        if records:
            await self._publisher.publish(records)
        await self._retry(lambda: self._decisions.finish(out, dropped, now, self._sent_ttl))
        for p in out:
            d = p.decision
            if d.holdout:
                handled.counters["decisions_holdout"] += 1
                handled.counters[f"decisions_holdout:{d.campaign_id}"] += 1
                continue
            handled.counters["decisions_emitted"] += 1
            handled.counters[f"decisions_emitted:{d.campaign_id}"] += 1
            handled.counters[f"decisions_emitted:{d.campaign_id}:{d.channel}"] += 1
            if d.score is not None:
                label = f"{LabelExpiry.prefix}:{d.customer_id}|{d.decision_id}"
                handled.scheduled[label] = to_ms(now) + self._window_ms
        return handled

    def _recheck(
        self,
        item: PendingDecision,
        view: ProfileView | None,
        history: Sequence[Sent],
        now: datetime,
    ) -> Allowed | Suppressed:
        d = item.decision
        if view is None:
            return Suppressed("no_consent", "profile gone")
        proposal = Proposal(
            decision_id=d.decision_id,
            customer_id=d.customer_id,
            campaign_id=d.campaign_id,
            channel=d.channel,
            priority=0,
            expected_value=0.0,
            send_at=now,
            expires_at=d.expires_at,
            trigger_at=item.trigger_at,
            cooldown=item.cooldown,
        )
        return check(
            proposal,
            at=now,
            consent=view.consent,
            history=[s for s in history if s.decision_id != d.decision_id],
            caps=self._rules.caps,
            quiet=self._rules.quiet,
            timezone=view.timezone,
            goal_at=goal_time(view, item.goal),
        )


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
    """``seg:`` checks: re-evaluate a customer's segments and profile triggers.

    Scheduled shortly after each change to the profile (debounced) and again
    every ``refresh``, because rules over time ("within 60 days", life cycle,
    a purchase falling due) change their answer without any new event. Segment
    changes are published and recorded; profile triggers (browse abandonment,
    replenishment, win-back, geofence, segment entry) go to the ``Decider``.
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
        decider: Decider,
        catalog: CatalogStore,
        priors: PriorStore,
    ) -> None:
        self._rules = rules
        self._value_rules = value_rules
        self._refresh_ms = int(refresh.total_seconds() * 1000)
        self._topic = segments_topic
        self._profiles = profiles
        self._segments = segments
        self._publisher = publisher
        self._retry = retry
        self._decider = decider
        self._catalog = catalog
        self._priors = priors
        self._campaigns = [
            c
            for c in decider.book.campaigns
            if c.trigger.type not in ("cart_abandonment", "price_drop", "back_in_stock")
        ]

    async def handle(self, customers: Sequence[str], now: datetime) -> Handled:
        handled = Handled()
        stored = await self._retry(lambda: self._profiles.stored(customers))
        current = await self._retry(lambda: self._segments.memberships(customers))
        views = {p.customer_id: derive(p, now, self._value_rules) for p in stored if p.exists}
        categories = await self._categories(views.values())
        changes: list[MembershipChange] = []
        hits: list[Hit] = []
        members_of: dict[str, set[str]] = {}
        for profile, before in zip(stored, current, strict=True):
            cid = profile.customer_id
            view = views.get(cid)
            if view is not None:
                members, failed = self._rules.evaluate(view)
                members_of[cid] = members
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
            if view is not None and self._campaigns:
                found, waits = profile_hits(view, sorted(entered), self._campaigns, categories)
                hits.extend(found)
                if waits:
                    handled.rescheduled[cid] = min(handled.rescheduled[cid], to_ms(min(waits)))
        handled.counters["segments_evaluated"] += len(stored)
        for hit in hits:
            handled.counters[f"triggers:{hit.trigger}"] += 1
        handled.counters.update(
            await self._decider.decide(unique_hits(hits), now, views, members_of)
        )
        profiles = [(daily_profile(views[cid].rhythm_local), m) for cid, m in members_of.items()]
        sums = prior_contributions(profiles, everyone=EVERYONE)
        await self._retry(lambda: self._priors.add(sums, now))
        if changes:
            await self._publisher.publish(_change_records(changes, self._topic, now))
            await self._retry(lambda: self._segments.record(changes))
            handled.counters["segment_entries"] += sum(len(c.entered) for c in changes)
            handled.counters["segment_exits"] += sum(len(c.exited) for c in changes)
        return handled

    async def _categories(self, views: Iterable[ProfileView]) -> dict[str, str]:
        """Catalog categories of recently viewed items (browse abandonment groups by them)."""
        if not any(isinstance(c.trigger, BrowseAbandonment) for c in self._campaigns):
            return {}
        items = sorted({item for view in views for item in view.viewed})
        return await self._retry(lambda: self._catalog.categories(items))


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
