"""Apply and evaluate (``streaming.onepass``, stage 3): one customer's pass in memory.

A batch's customer has their updates applied to the state read, then is
evaluated from the state they left: segments, profile triggers, conversions.
A due check re-enters at "evaluate" (no events). The catalog's changes become
triggers for everyone who wishes or viewed the item. No I/O: the pass reads before and
writes after.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, get_args

from stream_app.clock import from_ms, to_ms
from stream_app.counts import DecisionCount, DecisionOutcome, Labelled, Plain, add
from stream_app.decisions.attribution import Goal, converted
from stream_app.decisions.campaigns import BackInStock, Campaign, CampaignBook, PriceDrop
from stream_app.decisions.evaluation import Evaluation, evaluate, profile_campaigns
from stream_app.decisions.funnel import FunnelView
from stream_app.decisions.planner import Rules
from stream_app.decisions.policies import CANCELLING, Suppressed
from stream_app.decisions.timeline import Why
from stream_app.decisions.triggers import Hit, ItemAudience, catalog_hits, unique_hits
from stream_app.events.clickstream import (
    AddToWishlist,
    ClickstreamEvent,
    ProductView,
    RemoveFromWishlist,
)
from stream_app.events.purchase import Purchase
from stream_app.events.reviews import Remark
from stream_app.profiles.derive import ProfileView, ValueRules, derive
from stream_app.profiles.identity import is_anonymous
from stream_app.profiles.merge import merge
from stream_app.profiles.ops import ProfileUpdate
from stream_app.profiles.state import Outcome, StateLimits, apply_updates, wished
from stream_app.segments.rules import SegmentMemo, SegmentRules
from stream_app.storage.catalog import CatalogStore
from stream_app.storage.customers import Loaded
from stream_app.streaming.batch import Batch, Located
from stream_app.streaming.checks import DueChecks, cart_hits, recheck
from stream_app.streaming.effects import IDS_FLOOR, Passed
from stream_app.streaming.learning import Learner
from stream_app.streaming.rounds import Round

#: History's lateness behind the newest event: any (its floor is ``IDS_FLOOR``).
NEVER_LATE_MS = 1 << 62
#: Item -> [(customer, ms)].
ItemsSeen = dict[str, list[tuple[str, int]]]
#: The conversion goal each event type reaches: any clickstream event is a visit.
_GOALS: dict[type, Goal] = {
    **{kind: "visit" for kind in get_args(get_args(ClickstreamEvent)[0])},
    Purchase: "purchase",
}
_WISH_EVENTS = (AddToWishlist, RemoveFromWishlist)


@dataclass(slots=True)
class Evaluator:
    """The rules a customer is passed through: state limits, value rules, segments and
    the campaigns whose triggers are evaluated here (profile, catalog, cart)."""

    limits: StateLimits
    value_rules: ValueRules
    segment_rules: SegmentRules
    book: CampaignBook
    decision_rules: Rules
    learner: Learner | None
    segment_memo: int
    _profile_campaigns: list[Campaign] = field(init=False)
    #: Campaigns on catalog changes (their audience is who wishes or viewed the item).
    catalog_campaigns: list[Campaign] = field(init=False)
    _cart_campaigns: tuple[Campaign, ...] = field(init=False)
    _evaluates: bool = field(init=False)
    _memo: SegmentMemo | None = field(init=False)
    #: History's limits: late only below the id floor (``_history``).
    _history_limits: StateLimits = field(init=False)

    def __post_init__(self) -> None:
        campaigns = self.book.campaigns
        self._profile_campaigns = profile_campaigns(campaigns)
        self.catalog_campaigns = [
            c for c in campaigns if isinstance(c.trigger, PriceDrop | BackInStock)
        ]
        self._cart_campaigns = self.book.for_trigger("cart_abandonment")
        self._evaluates = bool(self.segment_rules.names or self._profile_campaigns)
        self._memo = SegmentMemo(self.segment_memo) if self.segment_memo else None
        self._history_limits = replace(self.limits, allowed_lateness_ms=NEVER_LATE_MS)

    def _evaluate(
        self, view: ProfileView, memberships: Set[str], changed: Set[str] | None
    ) -> Evaluation:
        """Segments and profile triggers over ``view`` (``changed``: the event types that
        changed it, so rules on other inputs are answered from the memo)."""
        return evaluate(
            view, memberships, self.segment_rules, self._profile_campaigns, self._memo, changed
        )

    # --- a batch's customers ----------------------------------------------------

    def events(self, work: Round, found: Loaded) -> Passed:
        """One customer: their updates applied, then evaluated from the state they left."""
        updates = work.batch.updates.get(found.customer_id, [])
        if work.backfill:  # history in event time: a batch's topics do not make it late
            updates = sorted(updates, key=lambda u: u.event_ms)
        passed = Passed(found)
        if found.erased:  # a forgotten customer: their events are dropped, counted
            passed.counters[Labelled("events_dropped", "erased")] += len(updates)
            return passed
        before = list(found.state.wishlist)
        passed.funnel = FunnelView.of(found.state)
        if found.merged or found.refused:
            self._merge(passed)
        goals, changed = self._apply(work, passed, updates)
        if passed.wishes or any(other.wishlist for other in found.merged):
            passed.wishes = _wishes(found, before, passed.wishes.keys())
        # History and guests are never evaluated, never messaged: state only (no segment
        # change, trigger, timer, conversion, label, nor catalog audience). A wish is
        # state, not a recent view: history's wishes are indexed, guests' are not.
        if work.backfill or is_anonymous(found.customer_id):
            passed.views.clear()
            if not work.backfill:
                passed.wishes.clear()
            passed.cart_due_ms = None
            passed.backfilled = work.backfill and not is_anonymous(found.customer_id)
            return passed
        if found.scored and self.learner is not None:  # feedback engaged with a decision
            passed.counters.update(self.learner.queue(found.scored, engaged=True))
        if not found.state.exists:
            return passed
        view = derive(found.state, work.now, self.value_rules)
        passed.view = view
        passed.conversions = converted(found.windows, goals)
        newest = max((ms for _, ms in passed.applied), default=None)
        if updates and self._evaluates:
            evaluation = self._evaluate(view, found.memberships, changed)
            _evaluated(passed, evaluation)
            passed.hits += [(h, max(to_ms(h.at), newest or 0)) for h in evaluation.hits]
        if catalog := work.catalog_hits.get(found.customer_id):
            on = set(wished(found.state.wishlist))  # a wish since removed has no message
            passed.hits += [(h, to_ms(h.at)) for h in catalog if h.wished in (None, *on)]
        return passed

    def _merge(self, passed: Passed) -> None:
        """The anonymous profiles this customer's events link, merged into their state
        before the events are applied (docs/identity.md)."""
        found = passed.loaded
        for other in found.merged:
            if other.exists:
                found.state = merge(found.state, other, self.limits)
        add(passed.counters, "identity_links", len(found.merged))
        add(passed.counters, "identity_conflicts", len(found.refused))

    def _apply(
        self, work: Round, passed: Passed, updates: Sequence[ProfileUpdate]
    ) -> tuple[list[tuple[Goal, int]], set[str]]:
        """Apply ``updates`` to the customer's state; returns the goals they reach and the
        event types they carry (duplicates included: a replayed batch converts and
        evaluates again, idempotently). Late events go to the late topic, not applied."""
        batch, found = work.batch, passed.loaded
        keys = [batch.keys[id(u)] for u in updates]
        seen = {u.event_id for u, key in zip(updates, keys, strict=True) if key in found.applied}
        assumed = found.state.zone_assumed
        if work.backfill:
            outcomes = self._history(found, updates, seen, _clock_ms(work, updates))
        else:
            # A live write trims the index; the first after history also rebuilds it.
            passed.compact_ids = found.state.fields.pop(IDS_FLOOR, None) is not None
            outcomes = apply_updates(found.state, updates, seen, self.limits, to_ms(work.now))
        goals: list[tuple[Goal, int]] = []
        changed: set[str] = set()
        live = not work.backfill  # history reaches no goal, is not evaluated nor an audience
        applied = duplicates = created = 0
        for update, key, outcome in zip(updates, keys, outcomes, strict=True):
            located = batch.origin[id(update)]
            if outcome is Outcome.TOO_LATE:
                self._late(batch, passed, located)
                continue
            event = located.event
            if live:
                changed.add(event.type)
                goal = _GOALS.get(type(event))
                if goal is not None:
                    goals.append((goal, update.event_ms))
                if isinstance(event, ProductView):
                    passed.views.append((event.item_id, update.event_ms))
            if isinstance(event, _WISH_EVENTS):
                passed.wishes[event.item_id] = None
            if outcome is Outcome.DUPLICATE:
                duplicates += 1
                continue
            applied += 1
            created += outcome is Outcome.CREATED
            passed.applied.append((key, update.event_ms))
            if batch.listener is not None and isinstance(event, Remark):
                batch.listener.teach(event)  # once: an applied event, never a duplicate
            passed.devices.extend(update.device_tokens)
            if update.linked is not None:
                passed.links.append(update.linked)
            if update.cart_check_due_ms is not None:
                passed.cart_due_ms = max(passed.cart_due_ms or 0, update.cart_check_due_ms)
            if update.order is not None:
                passed.orders.append(update.order)
            if update.lifelong:
                passed.kept.append(key)
        counters = passed.counters
        add(counters, "events_applied", applied)
        add(counters, "events_duplicate", duplicates)
        add(counters, "profiles_created", created)
        add(counters, "tz_assumed", found.state.zone_assumed - assumed)
        return goals, changed

    def _history(
        self, found: Loaded, updates: Sequence[ProfileUpdate], seen: set[str], clock_ms: int
    ) -> list[Outcome]:
        """Apply history: late only below the customer's id floor (``IDS_FLOOR``), not
        the allowed lateness behind their newest event. Topics read side by side run
        apart by months in a backfill (a low-volume topic's whole year comes in one
        fetch); a customer known only from history keeps every id, so whatever order
        their history comes in, it is applied once. Below the floor (ids trimmed by a
        live write) history is late, as live events are."""
        fields = found.state.fields
        floor = fields.get(IDS_FLOOR)
        if not isinstance(floor, int):
            newest = fields.get("last_seen")
            floor = newest - self.limits.allowed_lateness_ms if isinstance(newest, int) else 0
        behind = {id(u) for u in updates if not u.lifelong and u.event_ms < floor}
        ahead = [u for u in updates if id(u) not in behind] if behind else updates
        outcomes = apply_updates(found.state, ahead, seen, self._history_limits, clock_ms)
        if fields:
            fields[IDS_FLOOR] = floor
        if not behind:
            return outcomes
        done = dict(zip(map(id, ahead), outcomes, strict=True))
        return [
            done[id(u)] if id(u) not in behind
            else Outcome.DUPLICATE if u.event_id in seen else Outcome.TOO_LATE
            for u in updates
        ]  # fmt: skip

    def _late(self, batch: Batch, passed: Passed, located: Located) -> None:
        """An event beyond the allowed lateness: counted, and routed to the late topic
        (valid input, not a dead letter)."""
        newest = int(passed.loaded.state.fields["last_seen"])
        lateness = self.limits.allowed_lateness_ms
        passed.late.append(batch.late(located, passed.customer_id, newest, lateness))
        passed.counters[Labelled("events_late", located.stream.value)] += 1

    def catalog(self, work: Round, answers: Sequence[Any]) -> None:
        """Price drops and restocks: a hit for everyone who wishes the item or viewed it
        recently (in this batch too); a wish only while the profile still holds it."""
        items = work.batch.items
        changes, replays = CatalogStore.changes(items, answers)
        # Their effect is the catalog: applied, or a replay (or older) that changed nothing.
        add(work.counters, "events_applied", len(items) - replays)
        add(work.counters, "events_duplicate", replays)
        if not self.catalog_campaigns or work.backfill:  # history's changes message nobody
            return
        viewed_now, wished_now = _views_by_item(work.batch)
        hits: list[Hit] = []
        for change, stored in changes:
            viewers, wishers = dict(stored.viewers), dict(stored.wishers)
            for cid, ms in viewed_now.get(change.item_id, ()):
                viewers[cid] = max(viewers.get(cid, from_ms(ms)), from_ms(ms))
            for cid, ms in wished_now.get(change.item_id, ()):
                wishers.setdefault(cid, from_ms(ms))
            for campaign in self.catalog_campaigns:
                trigger = campaign.trigger
                assert isinstance(trigger, PriceDrop | BackInStock)
                hits.extend(catalog_hits(change, trigger, ItemAudience(viewers, wishers)))
        for hit in unique_hits(hits):
            work.counters[Labelled("triggers", hit.trigger)] += 1
            work.catalog_hits[hit.customer_id].append(hit)

    # --- due checks ---------------------------------------------------------------

    def checks(self, work: Round, found: Loaded, checks: DueChecks) -> Passed:
        """One customer's due checks: segments and profile triggers, an idle cart, the
        decisions whose send time came."""
        cid, now = found.customer_id, work.now
        passed = Passed(found)
        view = None
        if not found.erased and found.state.exists:
            view = derive(found.state, now, self.value_rules)
            passed.view = view
        if view is not None and cid in checks.segments:
            evaluation = self._evaluate(view, found.memberships, None)
            _evaluated(passed, evaluation)
            passed.hits += [(h, checks.segments[cid]) for h in evaluation.hits]
        if view is not None and cid in checks.cart:
            hits, again, nothing = cart_hits(view, self._cart_campaigns, now)
            passed.hits += [(h, checks.cart[cid]) for h in hits]
            passed.cart_again_ms = None if again is None else to_ms(again)
            passed.counters.update(Labelled("triggers_none", why) for why in nothing)
            passed.counters[Plain("checks_rescheduled")] += again is not None
        self._sends(passed, [did for c, did in checks.sends if c == cid], now)
        return passed

    def _sends(self, passed: Passed, decisions: Sequence[str], now: datetime) -> None:
        """Planned decisions at their send time: sent, held out, or dropped with why."""
        pending = {p.decision.decision_id: p for p in passed.loaded.pending}
        history = passed.loaded.history()
        for did in decisions:
            item = pending.get(did)
            if item is None:  # handled already (a replayed check), or erased
                passed.counters[Plain("decisions_gone")] += 1
                continue
            campaign = self.book.get(item.decision.campaign_id)
            verdict = recheck(item, passed.view, history, self.decision_rules, now, campaign)
            if isinstance(verdict, Suppressed):
                why = Why(item.decision.campaign_id, verdict.reason, verdict.detail)
                passed.due_dropped[did] = why
                kind: DecisionOutcome = (
                    "cancelled" if verdict.reason in CANCELLING else "suppressed"
                )
                passed.counters[DecisionCount(item.decision.campaign_id, kind, verdict.reason)] += 1
            else:
                passed.due_sent.append(item)


def _clock_ms(work: Round, updates: Sequence[ProfileUpdate]) -> int:
    """The pass's clock for a customer's updates: now, or for history the newest event
    time of theirs in the batch (event time is the clock of a backfill)."""
    if work.backfill and updates:
        return max(u.event_ms for u in updates)
    return to_ms(work.now)


def _evaluated(passed: Passed, evaluation: Evaluation) -> None:
    passed.evaluation = evaluation
    passed.counters[Plain("segments_evaluated")] += 1
    add(passed.counters, "segment_rule_errors", evaluation.rule_errors)


def _wishes(found: Loaded, before: Sequence[str], named: Set[str]) -> dict[str, int | None]:
    """The wishers index entries of the customer's items that wishlist events (``named``,
    duplicates included: a replay heals a write lost in a crash), a merge or the cap
    changed: item -> when wished, or None (off the wishlist), from the profile."""
    wishlist = found.state.wishlist
    items = {*named, *(i for other in found.merged for i in other.wishlist), *before}
    return {
        item: int(entry[0]) if entry is not None and int(entry[2]) else None
        for item in items
        if item in named or item not in wishlist or item not in before
        for entry in [wishlist.get(item)]
    }


def _views_by_item(batch: Batch) -> tuple[ItemsSeen, ItemsSeen]:
    """Items viewed and wished in ``batch``: item -> [(customer, ms)] (a wish the
    profile no longer holds is dropped with its hit)."""
    views: ItemsSeen = defaultdict(list)
    wishes: ItemsSeen = defaultdict(list)
    for cid, updates in batch.updates.items():
        for update in updates:
            event = batch.origin[id(update)].event
            if isinstance(event, ProductView):
                views[event.item_id].append((cid, update.event_ms))
            elif isinstance(event, AddToWishlist):
                wishes[event.item_id].append((cid, update.event_ms))
    return views, wishes
