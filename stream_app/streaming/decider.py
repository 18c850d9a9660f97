"""Turns trigger hits into scheduled decisions: the worker's side of ``decisions.planner``.

One pass per batch of hits: read the customers' profiles and contact
histories (two pipelines), plan every (hit, campaign) in memory, let the
customer's plans compete for the caps (``arbitrate``), and store the winners
with a ``send:`` check at their send time. Nothing is sent here: ``SendDue``
re-checks the policies when the time comes.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from stream_app.decisions.campaigns import Campaign, CampaignBook
from stream_app.decisions.content import cross_sell
from stream_app.decisions.ids import decision_id
from stream_app.decisions.planner import (
    Offer,
    Plan,
    Rules,
    ScoreAt,
    goal_time,
    one_per_occurrence,
    pick_channel,
    plan,
)
from stream_app.decisions.policies import Sent, Suppressed, arbitrate
from stream_app.decisions.timing import layered_prior
from stream_app.decisions.triggers import Hit
from stream_app.metrics.engine import EngineMetrics
from stream_app.profiles.derive import ProfileView, ValueRules, derive
from stream_app.storage.basket import BasketStore
from stream_app.storage.decisions import DecisionStore, PendingDecision
from stream_app.storage.priors import EVERYONE, PriorStore
from stream_app.storage.profiles import ProfileStore
from stream_app.storage.scoring import Scored, ScoringStore
from stream_app.storage.segments import SegmentStore
from stream_app.streaming.learning import Learner
from stream_app.streaming.retry import RedisRetry

log = logging.getLogger(__name__)

#: Learned send-time priors move over days; re-read them at most this often.
PRIOR_REFRESH = timedelta(minutes=1)


class Decider:
    def __init__(
        self,
        book: CampaignBook,
        rules: Rules,
        value_rules: ValueRules,
        profiles: ProfileStore,
        decisions: DecisionStore,
        scoring: ScoringStore,
        learner: Learner | None,
        retry: RedisRetry,
        basket: BasketStore,
        segments: SegmentStore,
        priors: PriorStore,
        metrics: EngineMetrics | None = None,
    ) -> None:
        self.book = book
        self._rules = rules
        self._value_rules = value_rules
        self._profiles = profiles
        self._decisions = decisions
        self._scoring = scoring
        self._learner = learner
        self._retry = retry
        self._basket = basket
        self._segments = segments
        self._priors = priors
        self._metrics = metrics
        self._prior_cache: dict[str, tuple[float, ...]] = {}
        self._prior_read_at: datetime | None = None
        longest = max((c.urgency.latest for c in book.campaigns), default=timedelta(days=1))
        #: Planned decisions outlive their latest send time by a day, then expire.
        self.pending_ttl = longest + timedelta(days=1)

    async def views(self, customers: Sequence[str], now: datetime) -> dict[str, ProfileView]:
        stored = await self._retry(lambda: self._profiles.stored(customers))
        return {p.customer_id: derive(p, now, self._value_rules) for p in stored if p.exists}

    async def decide(
        self,
        hits: Sequence[Hit],
        now: datetime,
        views: Mapping[str, ProfileView] | None = None,
        members: Mapping[str, set[str]] | None = None,
    ) -> Counter[str]:
        """Plan and schedule what ``hits`` call for; returns counters by outcome.
        ``views`` and segment ``members`` by customer, when the caller has them."""
        counters: Counter[str] = Counter()
        if not hits:
            return counters
        customers = sorted({h.customer_id for h in hits})
        if views is None:
            views = await self.views(customers, now)
        if members is None:
            found = await self._retry(lambda: self._segments.memberships(customers))
            members = dict(zip(customers, found, strict=True))
        priors = await self._layered_priors(customers, members, now)
        candidates = [
            (hit, campaign)
            for hit in hits
            if hit.customer_id in views
            for campaign in self.book.for_trigger(hit.trigger)
        ]
        together = await self._together(candidates)
        candidates = [
            (cross_sell(hit, together) if campaign.content == "cross_sell" else hit, campaign)
            for hit, campaign in candidates
        ]
        ids = [(h.customer_id, decision_id(c.id, h.customer_id, h.key)) for h, c in candidates]
        known = await self._retry(lambda: self._decisions.known(ids))
        histories = await self._retry(lambda: self._decisions.history(customers, now))
        history = dict(zip(customers, histories, strict=True))
        audiences = {cid: self._audience(view) for cid, view in views.items()}
        plans: dict[str, list[Plan]] = defaultdict(list)
        scored: dict[str, Scored] = {}
        for (hit, campaign), already in zip(candidates, known, strict=True):
            if already:
                counters["decisions_deduplicated"] += 1
                continue
            if campaign.audience and campaign.id not in audiences[hit.customer_id]:
                counters[f"decisions_skipped_audience:{campaign.id}"] += 1
                continue
            view = views[hit.customer_id]
            outcome = self._plan(
                hit,
                campaign,
                view,
                history[hit.customer_id],
                scored,
                counters,
                priors[hit.customer_id],
            )
            if isinstance(outcome, Suppressed):
                _suppressed(counters, campaign.id, outcome.reason)
            else:
                plans[hit.customer_id].append(outcome)
        winners = self._arbitrate(plans, views, history, counters)
        await self._retry(lambda: self._decisions.schedule(winners, self.pending_ttl))
        chosen = [
            scored[w.decision.decision_id] for w in winners if w.decision.decision_id in scored
        ]
        if chosen:
            await self._retry(lambda: self._scoring.remember(chosen, self._scored_ttl_s()))
        if self._metrics is not None:
            for hit in hits:  # made now: planned, or found nothing to do
                latency = (now - hit.at).total_seconds()
                self._metrics.trigger_to_decision.labels(hit.trigger).observe(max(latency, 0.0))
        for item in winners:
            d = item.decision
            counters["decisions_planned"] += 1
            counters[f"decisions_planned:{d.campaign_id}"] += 1
            if d.send_at > now:
                counters["decisions_deferred"] += 1
                counters[f"decisions_deferred:{d.campaign_id}"] += 1
            if d.holdout:
                counters["decisions_holdout_planned"] += 1
        return counters

    async def _layered_priors(
        self, customers: Sequence[str], members: Mapping[str, set[str]], now: datetime
    ) -> dict[str, tuple[float, ...]]:
        """Each customer's send-time prior: their segments', everyone's, the typical day.
        Learned priors are re-read at most once a minute (they move over days)."""
        names = {EVERYONE, *(name for cid in customers for name in members.get(cid, ()))}
        stale = self._prior_read_at is None or now - self._prior_read_at > PRIOR_REFRESH
        missing = sorted(names - self._prior_cache.keys())
        if stale or missing:
            wanted = sorted(names | self._prior_cache.keys()) if stale else missing
            self._prior_cache.update(await self._retry(lambda: self._priors.read(wanted, now)))
            if stale:
                self._prior_read_at = now
        rules = self._rules
        return {
            cid: layered_prior(
                [self._prior_cache[s] for s in sorted(members.get(cid, ()))],
                self._prior_cache[EVERYONE],
                rules.prior_hourly,
                rules.layer_strength,
            )
            for cid in customers
        }

    async def _together(
        self, candidates: Sequence[tuple[Hit, Campaign]]
    ) -> dict[str, list[tuple[str, int]]]:
        """What was bought with the items of the hits that cross-sell campaigns answer."""
        items = sorted(
            {i.item_id for h, c in candidates if c.content == "cross_sell" for i in h.items}
        )
        if not items:
            return {}
        return await self._retry(lambda: self._basket.items_with_each(items, limit=5))

    def _audience(self, view: ProfileView) -> set[str]:
        members, failed = self.book.audiences.evaluate(view)
        if failed:
            log.warning("audience rules failed for a profile: %s", failed)
        return members

    def _plan(
        self,
        hit: Hit,
        campaign: Campaign,
        view: ProfileView,
        history: Sequence[Sent],
        scored: dict[str, Scored],
        counters: Counter[str],
        prior: Sequence[float],
    ) -> Plan | Suppressed:
        channel = pick_channel(campaign, view.consent)
        offer = Offer(campaign.offer)
        score_at: ScoreAt | None = None
        learner = self._learner
        if learner is not None and channel is not None:
            if campaign.content == "bandit":
                chosen, propensity = learner.pick_offer(view)
                offer = Offer(chosen, propensity)
            name = offer.offer or "none"

            def score_at(at: datetime) -> float:
                return learner.score(view, campaign.id, channel, hit.category, name, at)

        goal_at = goal_time(view, campaign.goal)
        try:
            outcome = plan(
                hit,
                campaign,
                view,
                history,
                self._rules,
                offer=offer,
                score_at=score_at,
                goal_at=goal_at,
                prior=prior,
            )
        except Exception:  # the model failing must not hold back the message: time it alone
            log.exception("send-time scoring of %s failed", campaign.id)
            counters["scoring_errors"] += 1
            outcome = plan(
                hit, campaign, view, history, self._rules, offer=offer, goal_at=goal_at, prior=prior
            )
        if isinstance(outcome, Plan) and learner is not None and channel is not None:
            d = outcome.decision
            try:
                choice = learner.remember(view, d, hit.category)
            except Exception:  # a scoring fault must not hold back the message itself
                log.exception("scoring decision %s failed", d.decision_id)
                counters["scoring_errors"] += 1
                return outcome
            scored[d.decision_id] = choice
            scored_decision = d.model_copy(
                update={"score": choice.score, "model_version": choice.model_version}
            )
            outcome = replace(outcome, decision=scored_decision)
        return outcome

    def _arbitrate(
        self,
        plans: Mapping[str, list[Plan]],
        views: Mapping[str, ProfileView],
        history: Mapping[str, Sequence[Sent]],
        counters: Counter[str],
    ) -> list[PendingDecision]:
        """Per customer: one plan per trigger occurrence (the best campaign's), then the
        caps shared by all of them decide which go (``arbitrate``)."""
        winners: list[PendingDecision] = []
        for cid, mine in plans.items():
            view = views[cid]
            kept, dropped = one_per_occurrence(mine)
            for p in dropped:
                _suppressed(counters, p.proposal.campaign_id, "duplicate")
            by_id = {p.decision.decision_id: p for p in kept}
            accepted, rejected = arbitrate(
                [p.proposal for p in kept],
                history=history[cid],
                caps=self._rules.caps,
                consent=view.consent,
                quiet=self._rules.quiet,
                timezone=view.timezone,
                goal_at={p.proposal.campaign_id: goal_time(view, p.goal) for p in mine},
            )
            for proposal, why in rejected:
                _suppressed(counters, proposal.campaign_id, why.reason)
            for proposal in accepted:
                p = by_id[proposal.decision_id]
                winners.append(
                    PendingDecision(
                        p.decision,
                        p.stratum,
                        p.goal,
                        p.goal_window,
                        proposal.trigger_at,
                        proposal.cooldown,
                    )
                )
        return winners

    def _scored_ttl_s(self) -> int:
        """Features wait for the send, then for the label (a generous bound)."""
        return int((self.pending_ttl + timedelta(days=3)).total_seconds())


def _suppressed(counters: Counter[str], campaign_id: str, reason: str) -> None:
    counters[f"decisions_suppressed:{reason}"] += 1
    counters[f"decisions_suppressed:{campaign_id}:{reason}"] += 1
