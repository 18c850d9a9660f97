"""The worker's one pass: a batch of records -> profiles, segments, triggers, decisions.

Read once, decide in memory, publish, write once:

1. decode the records (what cannot be used becomes a dead letter) and fold each
   event into an update of its customer's profile (``streaming.batch``);
2. **read** in one round trip: every customer's stored profile, which of the
   batch's event ids were already applied, memberships, decisions and windows,
   device owners, the readings parked for the devices the batch links (one script
   call), and the catalog updates with their viewers; readings of devices still
   unlinked are parked (``streaming.parking``);
3. apply the updates in memory (``profiles.state``), then **evaluate** from the
   state they left: segments, profile triggers, catalog triggers, conversions
   (``streaming.evaluate``), and plan decisions (``Decider``);
4. **publish** dead letters, segment changes and decisions due now
   (``streaming.outbound``), and wait for the broker;
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
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence, Set
from typing import TypeVar

from stream_app.clock import Clock, to_ms
from stream_app.counts import Labelled, Plain, add
from stream_app.decisions.triggers import Hit, unique_hits
from stream_app.events.topics import TopicNames
from stream_app.metrics.engine import EngineMetrics, observe_all
from stream_app.profiles.derive import ValueRules
from stream_app.profiles.state import StateLimits
from stream_app.segments.rules import SegmentRules
from stream_app.storage.bundle import Stores
from stream_app.storage.commit import Writes
from stream_app.storage.customers import Ask, Loaded
from stream_app.storage.layout import event_key
from stream_app.storage.schedule import Claimed, Settlement
from stream_app.storage.scripts import ScriptCall, run_scripts
from stream_app.streaming.batch import Batch, BatchConfig, RecordLike, decode_batches
from stream_app.streaming.checks import DueChecks
from stream_app.streaming.decider import Audience, Decider
from stream_app.streaming.effects import Effects, Passed
from stream_app.streaming.evaluate import Evaluator
from stream_app.streaming.learning import Learner
from stream_app.streaming.outbound import DeadLetterLog, out_records
from stream_app.streaming.parking import claim_waiting, own, unparked
from stream_app.streaming.priors import PriorCache
from stream_app.streaming.publisher import Publisher
from stream_app.streaming.retry import RedisRetry
from stream_app.streaming.rounds import Round, counters_of

log = logging.getLogger(__name__)

#: Passes over customers whose write keeps failing its guard before the batch fails.
MAX_ATTEMPTS = 20

T = TypeVar("T")


class OnePass:
    def __init__(
        self,
        *,
        stores: Stores,
        batch_config: BatchConfig,
        limits: StateLimits,
        value_rules: ValueRules,
        topics: TopicNames,
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
        self._topics = topics
        self._customers = stores.customers
        self._catalog = stores.catalog
        self._basket = stores.basket
        self._stats = stores.stats
        self._committer = stores.committer
        self._effects = effects
        self._decider = decider
        self._priors = priors
        self._learner = learner
        self._publisher = publisher
        self._clock = clock
        self._retry = retry
        self._wake = wake
        self._evaluator = Evaluator(
            limits=limits,
            value_rules=value_rules,
            segment_rules=segment_rules,
            book=decider.book,
            decision_rules=decider.rules,
            learner=learner,
            segment_memo=segment_memo,
        )
        self._dead_letters = DeadLetterLog()

    async def records(self, records: Sequence[RecordLike]) -> Round:
        """One batch of records, all the way; returns what its live part did. Records
        marked as backfill pass first, on their own, as history (``Evaluator.events``)."""
        now = self._clock()
        for batch, backfill in decode_batches(records, self._batch_config, now):
            work = await self._pass(Round(batch, now, backfill=backfill))
        return work

    async def _pass(self, work: Round) -> Round:
        """Read, evaluate, decide, publish and write ``work``'s batch."""
        customers: Iterable[str] = list(work.batch.updates)
        first = True
        for _ in range(MAX_ATTEMPTS):
            loaded = await self._read(work, customers, first)
            if first:
                loaded |= await self._audiences(work, loaded)
                # Complete once device-only readings found their owners (or dead-lettered).
                work.counters.update(work.batch.counters)
            evaluator = self._evaluator
            results = {cid: evaluator.events(work, found) for cid, found in loaded.items()}
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
        checks = DueChecks.of(claimed.due)
        if checks.parked:
            await self._expire(checks.parked)
        now = self._clock()
        work = Round(Batch(now, 0), now)
        work.counters[Plain("checks_claimed")] += len(claimed.due)
        learner = self._learner
        if checks.labels and learner is not None:
            pairs = list(checks.labels)
            work.counters.update(await self._redis(work, lambda: learner.label(pairs, False)))
        asks = [Ask(cid) for cid in checks.customers()]
        loaded = await self._redis(work, lambda: self._customers.load(asks, now)) if asks else {}
        for cid, found in loaded.items():
            work.passed[cid] = self._evaluator.checks(work, found, checks)
        await self._decide(work, work.passed)
        await self._publish(work, work.passed.values(), first=True)
        extra = Writes()
        self._stores.schedule.settle(extra, Settlement(finished=list(claimed.due)))
        self._learn_priors(extra, work)
        conflicts = await self._write(work, extra)
        assert not conflicts, "due checks write no profile: nothing to guard"
        self._observe(work, claimed.due.values())
        return work

    async def _expire(self, tokens: Iterable[str]) -> None:
        """Readings parked for ``tokens`` pass again: applied if their device was linked
        meanwhile (a link that raced their parking), dead-lettered if their grace is
        over, else left waiting (their check re-armed)."""
        now = self._clock()
        work = Round(Batch(now, self._batch_config.dlq_keep_bytes), now)
        batch = work.batch
        parked = await self._redis(work, lambda: self._stores.parking.read(sorted(tokens)))
        for token, readings in parked.items():
            for reading in readings:
                batch.due_of[reading.key] = reading.due_ms
                batch.unowned[token].append(unparked(reading))
        if batch.unowned:
            await self._pass(work)

    def _learn_priors(self, writes: Writes, work: Round) -> None:
        """Send-time and presence priors learn from the customers whose segments the timer
        looked at (once per refresh, so active customers do not weigh more)."""
        looked = [
            (p.view, set(p.evaluation.members))
            for p in work.passed.values()
            if p.view is not None and p.evaluation is not None
        ]
        self._priors.learn(writes, looked, work.now)

    # --- read -------------------------------------------------------------------

    async def _read(self, work: Round, customers: Iterable[str], first: bool) -> dict[str, Loaded]:
        """Read ``customers``; on the first attempt also device owners and the catalog."""
        batch = work.batch
        asks = [batch.ask(cid, first) for cid in customers]
        stitcher, stitched = self._customers.stitcher, None
        if stitcher.needed(asks):  # a Redis Cluster: visitors, parked readings in their slots
            stitched = await self._redis(work, lambda: stitcher.resolve(asks))
            batch.relink(stitched.links)
            for anonymous in stitched.links:
                work.passed.pop(anonymous, None)
            named = dict.fromkeys([*(a.customer_id for a in asks), *stitched.links.values()])
            asks = stitched.asks(batch.ask(c, first) for c in named if c not in stitched.links)
        devices = {
            token: [event_key(located.event.event_id) for located in readings]
            for token, readings in (batch.unowned.items() if first else ())
        }
        items = batch.items if first else []
        if not asks and not devices and not items:
            return {}

        store = self._customers
        known = await self._redis(work, lambda: store.owners_of(devices)) if devices else {}
        reads = store.read(asks, work.now, devices, known)
        calls = [*reads, *self._catalog.updates(items, work.now)]
        answers = await self._redis(work, lambda: run_scripts(self._client, calls))
        found = answers[: len(reads)]
        loaded, owners, links, waiting = store.parse(found, asks, devices, known)
        if stitched is not None:
            stitched.into(loaded)
        if links:
            loaded |= await self._relinked(work, links, {ask.customer_id for ask in asks})
        if first:
            own(batch, owners, waiting, self._batch_config)
            claim_waiting(batch, loaded, self._batch_config.fold)
            self._evaluator.catalog(work, answers[len(reads) :])
        return loaded

    async def _relinked(
        self, work: Round, links: Mapping[str, str], asked: Set[str]
    ) -> dict[str, Loaded]:
        """Anonymous profiles found linked: their updates move to their customers, read
        again in full if read only through the link when passed again (their own updates
        not looked up), or on a cluster (no read follows a link) if not asked."""
        batch, split = work.batch, self._customers.stitcher.split
        partial = [
            c for c in set(links.values()) if c not in asked and (split or c in batch.updates)
        ]
        batch.relink(links)
        for anonymous in links:
            work.passed.pop(anonymous, None)
        return await self._read(work, partial, first=False) if partial else {}

    async def _audiences(self, work: Round, loaded: Mapping[str, Loaded]) -> dict[str, Loaded]:
        """Catalog hits' customers who sent nothing in this batch: read them (a second
        round trip, only when a change has such an audience)."""
        viewers = [Ask(cid) for cid in work.catalog_hits if cid not in loaded]
        if not viewers:
            return {}
        return await self._redis(work, lambda: self._customers.load(viewers, work.now))

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
        priors, history, known = self._priors, loaded.history(), loaded.known()
        return Audience(passed.view, history, known, priors.layered(members), priors.presence())

    # --- publish and write ---------------------------------------------------------

    async def _publish(self, work: Round, results: Iterable[Passed], first: bool) -> None:
        """Dead letters, segment changes, decisions due now and the labels taken so far
        (for the one learner); waits for the broker."""
        records, dead = out_records(work, list(results), self._topics, first)
        if self._learner is not None:
            records += self._learner.outbound()
        if records:
            await self._publisher.publish(records)
        if dead:
            self._dead_letters.note(dead, work.now)

    async def _write(self, work: Round, extra: Writes | None = None) -> list[str]:
        """Every write of the batch (and ``extra``) in one script call, one per slot on a
        cluster (less those an earlier attempt wrote); returns the customers to pass again."""
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
        if self._evaluator.catalog_campaigns and views:
            self._catalog.viewed(writes, views, work.now)
        self._stores.parking.write(writes, work.batch.parking)
        parked_due = work.batch.parking.earliest()
        armed += [] if parked_due is None else [parked_due]
        work.written = counters_of(work)
        self._stats.add(writes, work.written)
        committer, done = self._committer, work.committed_slots
        conflicts = await self._redis(work, lambda: committer.commit(writes, calls, done))
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
        if not work.backfill:  # history's age is not a latency
            results = work.passed.values()
            applied = (max(done_ms - ms, 0) / 1000 for p in results for _, ms in p.applied)
            observe_all(metrics.apply_latency, applied)
        for passed in work.passed.values():
            for hit, began_ms in passed.hits:
                latency_s = max(done_ms - began_ms, 0) / 1000
                metrics.trigger_to_decision.labels(hit.trigger).observe(latency_s)
        observe_all(metrics.timer_lateness, (max(done_ms - ms, 0) / 1000 for ms in due))
        metrics.count(work.written)
        metrics.round_trips.observe(work.round_trips)
        metrics.redis_batch.observe(work.redis_s)


def _keep_hits(results: Iterable[Passed], fresh: Set[tuple[str, str, str]]) -> None:
    """Keep only the hits decided now: an occurrence answered earlier is found again at
    every evaluation, and its trigger-to-decision latency was observed when answered."""
    for passed in results:
        if passed.hits:
            passed.hits = [
                (h, ms) for h, ms in passed.hits if (h.customer_id, h.trigger, h.key) in fresh
            ]


def _members(passed: Passed) -> set[str]:
    evaluation = passed.evaluation
    return set(evaluation.members) if evaluation is not None else set(passed.loaded.memberships)
