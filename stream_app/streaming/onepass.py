"""The worker's one pass: a batch of records -> profiles, segments, triggers, decisions.

Read once, decide in memory, publish, write once:

1. decode the records (what cannot be used becomes a dead letter) and fold each
   event into an update of its customer's profile (``streaming.batch``);
2. **read** in one round trip: every customer's stored profile, which of the
   batch's event ids were already applied, memberships, decisions and windows,
   device owners (one script call), and the catalog updates with their viewers;
3. apply the updates in memory (``profiles.state``), then **evaluate** from the
   state they left: segments, profile triggers, catalog triggers, conversions,
   and plan decisions (``Decider``);
4. **publish** dead letters, segment changes and decisions due now, and wait for
   the broker;
5. **write** in one round trip (``storage.commit``): profiles over the version
   read, the id index, memberships, planned decisions, timers, counters. A
   customer written by someone else meanwhile (a rebalance, a device's events on
   another partition) fails its guard: nothing is written, that customer is read
   and passed again, and the write is tried again.

The batch is acknowledged (Faust commits its offsets) only after this returns:
at-least-once delivery, and one effect per event id however often its batch is
replayed. A crash between 4 and 5 publishes again on replay (decisions keep
their ids, so a consumer drops the second copy). What must wait (a cart left
idle, a decision's best send time, a segment turning with time) is armed as a
timer at its exact due time (``streaming.timers``).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar, get_args

from stream_app.clock import Clock, from_ms, to_ms
from stream_app.counts import (
    Conversion,
    Counts,
    DecisionCount,
    DecisionOutcome,
    Labelled,
    Plain,
    add,
)
from stream_app.decisions.attribution import Goal, converted
from stream_app.decisions.campaigns import BackInStock, PriceDrop
from stream_app.decisions.evaluation import (
    Evaluation,
    MembershipChange,
    evaluate,
    profile_campaigns,
)
from stream_app.decisions.policies import Suppressed
from stream_app.decisions.timing import daily_profile, prior_contributions
from stream_app.decisions.triggers import Hit, catalog_hits, unique_hits
from stream_app.events.clickstream import ClickstreamEvent, ProductView
from stream_app.events.deadletter import DeadLetter, RejectReason
from stream_app.events.encode import encode
from stream_app.events.purchase import Purchase
from stream_app.events.segment import SegmentChange
from stream_app.metrics.engine import EngineMetrics, observe_all
from stream_app.profiles.derive import ValueRules, derive
from stream_app.profiles.ops import ProfileUpdate
from stream_app.profiles.state import Outcome, StateLimits, apply_updates
from stream_app.segments.rules import SegmentMemo, SegmentRules
from stream_app.storage.bundle import Stores
from stream_app.storage.catalog import CatalogStore
from stream_app.storage.commit import Writes
from stream_app.storage.customers import Ask, CustomerStore, Loaded
from stream_app.storage.decisions import PendingDecision
from stream_app.storage.layout import event_key
from stream_app.storage.priors import EVERYONE
from stream_app.storage.schedule import Claimed, Settlement
from stream_app.storage.scripts import ScriptCall, run_scripts
from stream_app.streaming.batch import Batch, BatchConfig, RecordLike, decode_batch
from stream_app.streaming.checks import DueChecks, cart_hits, recheck
from stream_app.streaming.decider import Audience, Decider
from stream_app.streaming.effects import Effects, Passed
from stream_app.streaming.learning import Learner
from stream_app.streaming.priors import PriorCache
from stream_app.streaming.publisher import OutRecord, Publisher
from stream_app.streaming.retry import RedisRetry

log = logging.getLogger(__name__)

#: Dead letters are logged at most this often (as one summary line).
DEAD_LETTER_LOG_EVERY = timedelta(seconds=10)
#: Passes over customers whose write keeps failing its guard before the batch fails.
MAX_ATTEMPTS = 20

ChangeKind = Literal["segment.entered", "segment.exited"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Topics:
    deadletter: str
    segments: str
    decisions: str
    audit: str


@dataclass(slots=True)
class Round:
    """One batch in progress: results per customer, and what belongs to the batch."""

    batch: Batch
    now: datetime
    passed: dict[str, Passed] = field(default_factory=dict)
    #: Catalog hits by viewer, found once (the catalog is updated once).
    catalog_hits: dict[str, list[Hit]] = field(default_factory=lambda: defaultdict(list))
    counters: Counts = field(default_factory=Counter)
    #: Every count of the batch as last written (``counters_of``), for the metrics.
    written: Counts = field(default_factory=Counter)
    round_trips: int = 0
    redis_s: float = 0.0


class OnePass:
    def __init__(
        self,
        *,
        stores: Stores,
        batch_config: BatchConfig,
        limits: StateLimits,
        value_rules: ValueRules,
        topics: Topics,
        effects: Effects,
        segment_rules: SegmentRules,
        decider: Decider,
        priors: PriorCache,
        learner: Learner | None,
        publisher: Publisher,
        clock: Clock,
        retry: RedisRetry,
        metrics: EngineMetrics | None = None,
        wake: Callable[[int], None] = lambda due_ms: None,
        segment_memo: int = 100_000,
    ) -> None:
        self._stores = stores
        self._metrics = metrics
        self._client = stores.redis
        self._batch_config = batch_config
        self._limits = limits
        self._value_rules = value_rules
        self._topics = topics
        self._customers = stores.customers
        self._catalog = stores.catalog
        self._basket = stores.basket
        self._stats = stores.stats
        self._committer = stores.committer
        self._effects = effects
        self._rules = segment_rules
        self._decider = decider
        self._priors = priors
        self._learner = learner
        self._publisher = publisher
        self._clock = clock
        self._retry = retry
        self._wake = wake
        book = decider.book
        self._profile_campaigns = profile_campaigns(book.campaigns)
        self._catalog_campaigns = [
            c for c in book.campaigns if isinstance(c.trigger, PriceDrop | BackInStock)
        ]
        self._cart_campaigns = book.for_trigger("cart_abandonment")
        self._evaluates = bool(segment_rules.names or self._profile_campaigns)
        self._memo = SegmentMemo(segment_memo) if segment_memo else None
        self._dead_unlogged: Counter[str] = Counter()
        self._dead_logged_at: datetime | None = None

    async def records(self, records: Sequence[RecordLike]) -> Round:
        """One batch of records, all the way; returns what it did (counters, results)."""
        now = self._clock()
        work = Round(decode_batch(records, self._batch_config, now), now)
        customers: Iterable[str] = list(work.batch.updates)
        first = True
        for _ in range(MAX_ATTEMPTS):
            loaded = await self._read(work, customers, first)
            if first:
                loaded |= await self._audiences(work, loaded)
                # Complete once device-only readings found their owners (or dead-lettered).
                work.counters.update(work.batch.counters)
            results = {cid: self._pass(work, found) for cid, found in loaded.items()}
            await self._decide(work, results)
            work.passed.update(results)
            await self._publish(work, results.values(), first)
            conflicts = await self._write(work)
            if not conflicts:
                self._observe(work, ())
                return work
            customers, first = conflicts, False
            log.info("%d customer(s) written meanwhile: passing them again", len(conflicts))
        raise RuntimeError(f"{len(list(customers))} customers kept changing under the pass")

    # --- the timer path --------------------------------------------------------------

    async def due(self, claimed: Claimed) -> Round:
        """Checks whose time has come: their customers re-enter the pass at "evaluate"
        (no events), and what they decide is published and written like a batch's."""
        now = self._clock()
        work = Round(Batch(now, 0), now)
        checks = DueChecks.of(claimed.due)
        work.counters[Plain("checks_claimed")] += len(claimed.due)
        learner = self._learner
        if checks.labels and learner is not None:
            pairs = list(checks.labels)
            work.counters.update(await self._redis(work, lambda: learner.label(pairs, False)))
        asks = [Ask(cid) for cid in checks.customers()]
        loaded = await self._redis(work, lambda: self._customers.load(asks, now)) if asks else {}
        for cid, found in loaded.items():
            work.passed[cid] = self._checked(work, found, checks)
        await self._decide(work, work.passed)
        await self._publish(work, work.passed.values(), first=True)
        extra = Writes()
        self._stores.schedule.settle(extra, Settlement(finished=list(claimed.due)))
        self._learn_priors(extra, work)
        conflicts = await self._write(work, extra)
        assert not conflicts, "due checks write no profile: nothing to guard"
        self._observe(work, claimed.due.values())
        return work

    def _checked(self, work: Round, found: Loaded, checks: DueChecks) -> Passed:
        """One customer's due checks: segments and profile triggers, an idle cart, the
        decisions whose send time came."""
        cid, now = found.customer_id, work.now
        passed = Passed(found)
        view = None
        if not found.erased and found.state.exists:
            view = derive(found.state, now, self._value_rules)
            passed.view = view
        if view is not None and cid in checks.segments:
            evaluation = evaluate(
                view, found.memberships, self._rules, self._profile_campaigns, self._memo, None
            )
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
            verdict = recheck(item, passed.view, history, self._decider.rules, now)
            if isinstance(verdict, Suppressed):
                passed.due_dropped.append(did)
                kind: DecisionOutcome = (
                    "cancelled" if verdict.reason == "goal_reached" else "suppressed"
                )
                passed.counters[DecisionCount(item.decision.campaign_id, kind, verdict.reason)] += 1
            else:
                passed.due_sent.append(item)

    def _learn_priors(self, writes: Writes, work: Round) -> None:
        """Send-time priors learn from the customers whose segments the timer looked at
        (once per refresh, so active customers do not weigh more)."""
        profiles = [
            (daily_profile(p.view.rhythm_local), set(p.evaluation.members))
            for p in work.passed.values()
            if p.view is not None and p.evaluation is not None
        ]
        if profiles:
            sums = prior_contributions(profiles, everyone=EVERYONE)
            self._stores.priors.add(writes, sums, work.now)

    # --- read -------------------------------------------------------------------

    async def _read(self, work: Round, customers: Iterable[str], first: bool) -> dict[str, Loaded]:
        """Read ``customers``; on the first attempt also device owners and the catalog."""
        batch = work.batch
        asks = [_ask(batch, cid) for cid in customers]
        devices = {
            token: [event_key(located.event.event_id) for located in readings]
            for token, readings in (batch.unowned.items() if first else ())
        }
        items = batch.items if first else []
        if not asks and not devices and not items:
            return {}

        calls = [
            self._customers.read(asks, work.now, devices),
            *self._catalog.updates(items, work.now),
        ]
        answers = await self._redis(work, lambda: run_scripts(self._client, calls))
        loaded, owners = CustomerStore.parse(answers[0], asks, devices)
        if first:
            batch.own(owners, self._batch_config.fold)
            self._catalog_changes(work, answers[1:])
        return loaded

    def _catalog_changes(self, work: Round, answers: Sequence[Any]) -> None:
        """Price drops and restocks: a hit for everyone who viewed the item recently (in
        this batch too)."""
        items = work.batch.items
        changes, replays = CatalogStore.changes(items, answers)
        # Their effect is the catalog: applied, or a replay (or older) that changed nothing.
        add(work.counters, "events_applied", len(items) - replays)
        add(work.counters, "events_duplicate", replays)
        if not self._catalog_campaigns:
            return
        viewed_now = _views_by_item(work.batch)
        hits: list[Hit] = []
        for change, viewers in changes:
            audience = dict(viewers)
            for cid, ms in viewed_now.get(change.item_id, ()):
                audience[cid] = max(audience.get(cid, from_ms(ms)), from_ms(ms))
            for campaign in self._catalog_campaigns:
                trigger = campaign.trigger
                assert isinstance(trigger, PriceDrop | BackInStock)
                hits.extend(catalog_hits(change, trigger, audience))
        for hit in unique_hits(hits):
            work.counters[Labelled("triggers", hit.trigger)] += 1
            work.catalog_hits[hit.customer_id].append(hit)

    async def _audiences(self, work: Round, loaded: Mapping[str, Loaded]) -> dict[str, Loaded]:
        """Catalog hits' customers who sent nothing in this batch: read them (a second
        round trip, only when a change has such an audience)."""
        viewers = [Ask(cid) for cid in work.catalog_hits if cid not in loaded]
        if not viewers:
            return {}
        return await self._redis(work, lambda: self._customers.load(viewers, work.now))

    # --- apply and evaluate ------------------------------------------------------

    def _pass(self, work: Round, found: Loaded) -> Passed:
        """One customer: their updates applied, then evaluated from the state they left."""
        updates = work.batch.updates.get(found.customer_id, [])
        passed = Passed(found)
        if found.erased:  # a forgotten customer: their events are dropped, counted
            passed.counters[Labelled("events_dropped", "erased")] += len(updates)
            return passed
        goals, changed = self._apply(work, passed, updates)
        if found.scored and self._learner is not None:  # feedback engaged with a decision
            passed.counters.update(self._learner.learn(found.scored, engaged=True))
        if not found.state.exists:
            return passed
        view = derive(found.state, work.now, self._value_rules)
        passed.view = view
        passed.conversions = converted(found.windows, goals)
        newest = max((ms for _, ms in passed.applied), default=None)
        if updates and self._evaluates:
            evaluation = evaluate(
                view, found.memberships, self._rules, self._profile_campaigns, self._memo, changed
            )
            _evaluated(passed, evaluation)
            passed.hits += [(h, max(to_ms(h.at), newest or 0)) for h in evaluation.hits]
        passed.hits += [(h, to_ms(h.at)) for h in work.catalog_hits.get(found.customer_id, ())]
        return passed

    def _apply(
        self, work: Round, passed: Passed, updates: Sequence[ProfileUpdate]
    ) -> tuple[list[tuple[Goal, int]], set[str]]:
        """Apply ``updates`` to the customer's state; returns the goals they reach and the
        event types they carry (duplicates included: a replayed batch converts and
        evaluates again, idempotently)."""
        batch, found = work.batch, passed.loaded
        keys = [batch.keys[id(u)] for u in updates]
        seen = {u.event_id for u, key in zip(updates, keys, strict=True) if key in found.applied}
        outcomes = apply_updates(found.state, updates, seen, self._limits, to_ms(work.now))
        goals: list[tuple[Goal, int]] = []
        changed: set[str] = set()
        applied = duplicates = created = 0
        for update, key, outcome in zip(updates, keys, outcomes, strict=True):
            located = batch.origin[id(update)]
            if outcome is Outcome.TOO_LATE:
                passed.dead.append(
                    batch.letter(located.record, located.position, LATE, LATE_DETAIL)
                )
                passed.counters[Labelled("dead_letters", LATE.value)] += 1
                continue
            event = located.event
            changed.add(event.type)
            goal = _GOALS.get(type(event))
            if goal is not None:
                goals.append((goal, update.event_ms))
            if isinstance(event, ProductView):
                passed.views.append((event.item_id, update.event_ms))
            if outcome is Outcome.DUPLICATE:
                duplicates += 1
                continue
            applied += 1
            created += outcome is Outcome.CREATED
            passed.applied.append((key, update.event_ms))
            passed.devices.extend(update.device_tokens)
            if update.cart_check_due_ms is not None:
                passed.cart_due_ms = max(passed.cart_due_ms or 0, update.cart_check_due_ms)
            if update.order is not None:
                passed.orders.append(update.order)
        counters = passed.counters
        add(counters, "events_applied", applied)
        add(counters, "events_duplicate", duplicates)
        add(counters, "profiles_created", created)
        return goals, changed

    async def _decide(self, work: Round, results: Mapping[str, Passed]) -> None:
        """Plan decisions for the hits of ``results``' customers."""
        hits = [
            hit
            for passed in results.values()
            if passed.view is not None
            for hit in unique_hits([h for h, _ in passed.hits])
        ]
        for hit in hits:
            if hit.trigger not in ("price_drop", "back_in_stock"):  # counted when found
                results[hit.customer_id].counters[Labelled("triggers", hit.trigger)] += 1
        by_customer: dict[str, list[Hit]] = defaultdict(list)
        for hit in hits:
            by_customer[hit.customer_id].append(hit)
        hits = []
        for cid, mine in by_customer.items():
            fresh, answered = self._decider.unanswered(mine, results[cid].loaded.known())
            add(results[cid].counters, "decisions_deduplicated", answered)
            hits += fresh
        _keep_hits(results.values(), {(h.customer_id, h.trigger, h.key) for h in hits})
        if not hits:
            return
        members = {h.customer_id: _members(results[h.customer_id]) for h in hits}
        await self._priors.ensure({s for m in members.values() for s in m}, work.now)
        audiences = {cid: self._audience(results[cid], m) for cid, m in members.items()}
        items = self._decider.cross_sell_items(hits)
        together = {}
        if items:
            basket = self._basket
            together = await self._redis(work, lambda: basket.items_with_each(items, limit=5))
        decided = self._decider.decide(hits, audiences, together)
        for winner in decided.winners:
            results[winner.decision.customer_id].winners.append(winner)
        for chosen in decided.scored:
            results[chosen.customer_id].scored.append(chosen)
        for cid, did, why in decided.settled:
            results[cid].settled[did] = why
        for cid, counters in decided.counters.items():
            results[cid].counters.update(counters)

    def _audience(self, passed: Passed, members: set[str]) -> Audience:
        assert passed.view is not None
        loaded = passed.loaded
        return Audience(
            passed.view, loaded.history(), loaded.known(), self._priors.layered(members)
        )

    # --- publish and write ---------------------------------------------------------

    async def _publish(self, work: Round, results: Iterable[Passed], first: bool) -> None:
        """Dead letters, segment changes and decisions due now; waits for the broker."""
        topics, now = self._topics, work.now
        passed = list(results)
        dead = [*(work.batch.dead if first else ()), *(d for p in passed for d in p.dead)]
        records = [OutRecord(topics.deadletter, None, encode(d)) for d in dead]
        for p in passed:
            change = p.evaluation.change if p.evaluation else None
            if change is not None:
                records += change_records(change, topics.segments, now)
            for sent in p.to_send(now):
                d = sent.decision
                topic = topics.audit if d.holdout else topics.decisions
                records.append(OutRecord(topic, d.customer_id.encode(), encode(d)))
        if records:
            await self._publisher.publish(records)
        if dead:
            self._note_dead_letters(dead, now)

    async def _write(self, work: Round, extra: Writes | None = None) -> list[str]:
        """Every write of the batch (and ``extra``) in one script call; returns the
        customers to pass again (their guard failed, so nothing was written)."""
        writes = extra or Writes()
        calls: list[ScriptCall] = []
        armed: list[int] = []
        views: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for cid, passed in work.passed.items():
            more, due = self._effects.add(writes, passed, work.now)
            calls += more
            armed += [] if due is None else [due]
            for item, ms in passed.views:
                views[item].append((cid, ms))
        if self._catalog_campaigns and views:
            self._catalog.viewed(writes, views, work.now)
        work.written = counters_of(work)
        self._stats.add(writes, work.written)
        conflicts = await self._redis(work, lambda: self._committer.commit(writes, calls))
        if not conflicts and armed:
            self._wake(min(armed))
        return conflicts

    async def _redis(self, work: Round, call: Callable[[], Awaitable[T]]) -> T:
        """One round trip to Redis (retried until it succeeds), timed."""
        started = time.perf_counter()
        try:
            return await self._retry(call)
        finally:
            work.round_trips += 1
            work.redis_s += time.perf_counter() - started

    def _observe(self, work: Round, due: Iterable[int]) -> None:
        """Latencies once the batch is written: event -> profile applied, triggering
        event -> decision made, due time -> check done; and the batch's counters."""
        metrics = self._metrics
        if metrics is None:
            return
        done_ms = to_ms(self._clock())
        applied = (max(done_ms - ms, 0) / 1000 for p in work.passed.values() for _, ms in p.applied)
        observe_all(metrics.apply_latency, applied)
        for passed in work.passed.values():
            for hit, began_ms in passed.hits:
                latency_s = max(done_ms - began_ms, 0) / 1000
                metrics.trigger_to_decision.labels(hit.trigger).observe(latency_s)
        observe_all(metrics.timer_lateness, (max(done_ms - ms, 0) / 1000 for ms in due))
        metrics.count(work.written)
        metrics.round_trips.observe(work.round_trips)
        metrics.redis_batch.observe(work.redis_s)

    def _note_dead_letters(self, dead: Sequence[DeadLetter], now: datetime) -> None:
        """One log line per dead-letter burst: the first letter after a quiet spell, then
        at most one summary per ``DEAD_LETTER_LOG_EVERY``, never one line per record."""
        self._dead_unlogged.update(d.reason.value for d in dead)
        last = self._dead_logged_at
        if last is not None and now - last < DEAD_LETTER_LOG_EVERY:
            return
        total = sum(self._dead_unlogged.values())
        reasons = ", ".join(f"{reason}={n}" for reason, n in self._dead_unlogged.items())
        log.warning(
            "dead-lettered %d record(s): %s",
            total,
            reasons,
            extra={"event": "dead_letters", "count": total},
        )
        self._dead_unlogged = Counter()
        self._dead_logged_at = now


def counters_of(work: Round) -> Counts:
    """Everything a batch counted: the batch's own counts and each customer's."""
    total = Counter(work.counters)
    for passed in work.passed.values():
        total.update(passed.counters)
        change = passed.evaluation.change if passed.evaluation else None
        if change is not None:
            add(total, "segment_entries", len(change.entered))
            add(total, "segment_exits", len(change.exited))
        for window in passed.conversions:
            total[Conversion(window.campaign_id, window.arm)] += 1
        for sent in passed.to_send(work.now):
            total[sent_count(sent)] += 1
    return total


def sent_count(item: PendingDecision) -> DecisionCount:
    """What sending (or holding out) a decision counts."""
    d = item.decision
    return (
        DecisionCount(d.campaign_id, "holdout")
        if d.holdout
        else DecisionCount(d.campaign_id, "emitted", d.channel)
    )


def _keep_hits(results: Iterable[Passed], fresh: Set[tuple[str, str, str]]) -> None:
    """Keep only the hits decided now: an occurrence answered earlier is found again at
    every evaluation, and its trigger-to-decision latency was observed when answered."""
    for passed in results:
        if passed.hits:
            passed.hits = [
                (h, ms) for h, ms in passed.hits if (h.customer_id, h.trigger, h.key) in fresh
            ]


def _evaluated(passed: Passed, evaluation: Evaluation) -> None:
    passed.evaluation = evaluation
    passed.counters[Plain("segments_evaluated")] += 1
    add(passed.counters, "segment_rule_errors", evaluation.rule_errors)


def change_records(change: MembershipChange, topic: str, now: datetime) -> list[OutRecord]:
    """A membership change as ``segment.entered`` / ``segment.exited`` records."""
    key = change.customer_id.encode()
    kinds: tuple[tuple[ChangeKind, frozenset[str]], ...] = (
        ("segment.entered", change.entered),
        ("segment.exited", change.exited),
    )
    return [
        OutRecord(topic, key, encode(SegmentChange.of(kind, change.customer_id, name, now)))
        for kind, names in kinds
        for name in sorted(names)
    ]


def _ask(batch: Batch, customer_id: str) -> Ask:
    updates = batch.updates[customer_id]
    return Ask(
        customer_id,
        [batch.keys[id(u)] for u in updates],
        [u.engaged_with for u in updates if u.engaged_with],
    )


LATE = RejectReason.LATE_EVENT
LATE_DETAIL = "beyond allowed lateness"
#: The conversion goal each event type reaches: any clickstream event is a visit.
_GOALS: dict[type, Goal] = {
    **{kind: "visit" for kind in get_args(get_args(ClickstreamEvent)[0])},
    Purchase: "purchase",
}


def _views_by_item(batch: Batch) -> dict[str, list[tuple[str, int]]]:
    found: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for cid, updates in batch.updates.items():
        for update in updates:
            event = batch.origin[id(update)].event
            if isinstance(event, ProductView):
                found[event.item_id].append((cid, update.event_ms))
    return found


def _members(passed: Passed) -> set[str]:
    evaluation = passed.evaluation
    return set(evaluation.members) if evaluation is not None else set(passed.loaded.memberships)
