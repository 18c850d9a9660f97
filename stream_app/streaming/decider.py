"""Turns trigger hits into decisions: the worker's side of ``decisions.planner``.

No I/O: the pass hands in each customer's view, contact history and known
decision ids (read with the batch), the send-time priors and what was bought
together with the hits' items; it plans every (hit, campaign) in memory, lets a
customer's plans compete for the caps (``arbitrate``) and returns the winners, to
send now or schedule, with what each was scored on (kept for its label).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from stream_app.counts import Counts, DecisionCount, Plain
from stream_app.decisions.campaigns import Campaign, CampaignBook
from stream_app.decisions.content import cross_sell
from stream_app.decisions.ids import decision_id
from stream_app.decisions.moments import PresencePriors
from stream_app.decisions.planner import (
    Offer,
    Plan,
    Rules,
    ScoreAt,
    customer_quiet,
    goal_time,
    one_per_occurrence,
    pick_channel,
    plan,
    recovering_until,
)
from stream_app.decisions.policies import Sent, Suppressed, arbitrate
from stream_app.decisions.timeline import Why
from stream_app.decisions.triggers import Hit
from stream_app.model.features import Message
from stream_app.profiles.derive import ProfileView
from stream_app.storage.decisions import PendingDecision
from stream_app.storage.scoring import Scored
from stream_app.streaming.learning import Learner

log = logging.getLogger(__name__)

#: Items of "bought together" content per trigger item.
TOGETHER_LIMIT = 5


@dataclass(frozen=True, slots=True)
class Audience:
    """What planning reads of one customer."""

    view: ProfileView
    history: Sequence[Sent]
    #: Decision ids already planned or sent: a trigger seen again is a duplicate.
    known: set[str]
    #: Their send-time prior by local hour (their segments', everyone's, a typical day).
    prior: Sequence[float]
    #: Everyone's presence as learned (how soon customers come back).
    presence: PresencePriors


@dataclass(slots=True)
class Decided:
    """The winners of a round of planning, and what it counted."""

    winners: list[PendingDecision] = field(default_factory=list)
    scored: list[Scored] = field(default_factory=list)
    #: Occurrences answered without a message: (customer, decision id, why). Remembered
    #: like sent ones, so an occurrence seen again (every event re-evaluates the
    #: profile) is not planned and counted again.
    settled: list[tuple[str, str, Why]] = field(default_factory=list)
    #: By customer, so a customer decided again replaces only their own counts.
    counters: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counter))


class Decider:
    def __init__(self, *, book: CampaignBook, rules: Rules, learner: Learner | None) -> None:
        self.book = book
        self.rules = rules
        self._learner = learner
        longest = max((c.urgency.latest for c in book.campaigns), default=timedelta(days=1))
        #: Planned decisions outlive their latest send time by a day, then expire.
        self.pending_ttl = longest + timedelta(days=1)

    def cross_sell_items(self, hits: Sequence[Hit]) -> list[str]:
        """Items whose "bought together" lists the hits' cross-sell campaigns need."""
        return sorted(
            {
                item.item_id
                for hit in hits
                for c in self.book.for_trigger(hit.trigger)
                if c.content == "cross_sell"
                for item in hit.items
            }
        )

    def unanswered(self, hits: Sequence[Hit], known: Set[str]) -> tuple[list[Hit], int]:
        """The hits some campaign has not answered yet (``known``: decision ids planned,
        sent or settled), and how many (hit, campaign) pairs were answered already: an
        occurrence is found again at every evaluation until it passes."""
        fresh: list[Hit] = []
        answered = 0
        for hit in hits:
            ids = [
                decision_id(c.id, hit.customer_id, hit.key)
                for c in self.book.for_trigger(hit.trigger)
            ]
            answered += sum(did in known for did in ids)
            if any(did not in known for did in ids):
                fresh.append(hit)
        return fresh, answered

    def decide(
        self,
        hits: Sequence[Hit],
        audiences: Mapping[str, Audience],
        together: Mapping[str, list[tuple[str, int]]],
    ) -> Decided:
        """Plan what ``hits`` call for (customers without an audience are skipped: no
        profile)."""
        decided = Decided()
        plans: dict[str, list[Plan]] = defaultdict(list)
        scored: dict[str, Scored] = {}
        for hit in hits:
            audience = audiences.get(hit.customer_id)
            if audience is None:
                continue
            members: set[str] | None = None  # campaign audiences, evaluated when needed
            for campaign in self.book.for_trigger(hit.trigger):
                did = decision_id(campaign.id, hit.customer_id, hit.key)
                if did in audience.known:
                    continue  # answered already (``unanswered`` counted it)
                if campaign.audience and members is None:
                    members = self._audiences(audience.view)
                outcome = self._candidate(
                    hit, campaign, audience, members, together, scored, decided
                )
                if outcome is not None:
                    plans[hit.customer_id].append(outcome)
        decided.winners = self._arbitrate(plans, audiences, decided)
        decided.scored = [
            scored[w.decision.decision_id]
            for w in decided.winners
            if w.decision.decision_id in scored
        ]
        for item in decided.winners:
            d = item.decision
            counters = decided.counters[d.customer_id]
            counters[DecisionCount(d.campaign_id, "planned")] += 1
            if d.send_at > d.decided_at:
                counters[DecisionCount(d.campaign_id, "deferred")] += 1
            if d.holdout:
                counters[DecisionCount(d.campaign_id, "holdout_planned")] += 1
        return decided

    def _candidate(
        self,
        hit: Hit,
        campaign: Campaign,
        audience: Audience,
        members: set[str] | None,
        together: Mapping[str, list[tuple[str, int]]],
        scored: dict[str, Scored],
        decided: Decided,
    ) -> Plan | None:
        """``campaign``'s plan for ``hit``, or None (settled: out of audience, suppressed)."""
        cid = hit.customer_id
        counters = decided.counters[cid]
        did = decision_id(campaign.id, cid, hit.key)
        if campaign.audience and campaign.id not in (members or ()):
            counters[DecisionCount(campaign.id, "skipped_audience")] += 1
            decided.settled.append((cid, did, Why(campaign.id, "audience")))
            return None
        answered = cross_sell(hit, together) if campaign.content == "cross_sell" else hit
        outcome = self._plan(answered, campaign, audience, scored, counters)
        if isinstance(outcome, Suppressed):
            suppressed(counters, campaign.id, outcome.reason)
            decided.settled.append((cid, did, Why(campaign.id, outcome.reason, outcome.detail)))
            return None
        return outcome

    def _audiences(self, view: ProfileView) -> set[str]:
        """The campaigns whose audience rule ``view`` meets."""
        members, failed = self.book.audiences.evaluate(view)
        if failed:
            log.warning("audience rules failed for a profile: %s", failed)
        return members

    def _plan(
        self,
        hit: Hit,
        campaign: Campaign,
        audience: Audience,
        scored: dict[str, Scored],
        counters: Counts,
    ) -> Plan | Suppressed:
        view = audience.view
        channel = pick_channel(campaign, view.consent)
        offer = Offer(campaign.offer)
        score_at: ScoreAt | None = None
        learner = self._learner
        if learner is not None and channel is not None:
            if campaign.content == "bandit":
                chosen, propensity = learner.pick_offer(view)
                offer = Offer(chosen, propensity)

            message = Message(campaign.id, channel, hit.category, offer.offer or "none")

            def score_at(moments: Sequence[datetime]) -> list[float]:
                return learner.scores(view, message, moments)

        goal_at = goal_time(view, campaign.goal)
        planning = partial(
            plan,
            hit,
            campaign,
            view,
            audience.history,
            self.rules,
            offer=offer,
            goal_at=goal_at,
            prior=audience.prior,
            presence=audience.presence,
        )
        try:
            outcome = planning(score_at=score_at)
        except Exception:  # the model failing must not hold back the message: time it alone
            log.exception("send-time scoring of %s failed", campaign.id)
            counters[SCORING_ERRORS] += 1
            outcome = planning()
        if isinstance(outcome, Plan) and learner is not None:
            d = outcome.decision
            # The model at hand decided (timed, chose the offer): its version goes with
            # every decision, scored or not.
            update: dict[str, object] = {"model_version": learner.version}
            try:
                if channel is not None:
                    choice = learner.remember(view, d, hit.category)
                    scored[d.decision_id] = choice
                    update["score"] = choice.score
            except Exception:  # a scoring fault must not hold back the message itself
                log.exception("scoring decision %s failed", d.decision_id)
                counters[SCORING_ERRORS] += 1
            outcome = replace(outcome, decision=d.model_copy(update=update))
        return outcome

    def _arbitrate(
        self,
        plans: Mapping[str, list[Plan]],
        audiences: Mapping[str, Audience],
        decided: Decided,
    ) -> list[PendingDecision]:
        """Per customer: one plan per trigger occurrence (the best campaign's), then the
        caps shared by all of them decide which go (``arbitrate``)."""
        winners: list[PendingDecision] = []
        for cid, mine in plans.items():
            audience = audiences[cid]
            view = audience.view
            counters = decided.counters[cid]
            kept, dropped = one_per_occurrence(mine)
            for p in dropped:
                suppressed(counters, p.proposal.campaign_id, "duplicate")
                answered = Why(
                    p.proposal.campaign_id, "duplicate", "another campaign answered the occurrence"
                )
                decided.settled.append((cid, p.decision.decision_id, answered))
            by_id = {p.decision.decision_id: p for p in kept}
            accepted, rejected = arbitrate(
                [p.proposal for p in kept],
                history=audience.history,
                caps=self.rules.caps,
                consent=view.consent,
                quiet={
                    p.proposal.channel: customer_quiet(self.rules, view, p.proposal.channel)
                    for p in kept
                },
                timezone=view.local_zone,
                goal_at={p.proposal.campaign_id: goal_time(view, p.goal) for p in mine},
                recovering_until=recovering_until(view, self.rules),
            )
            for proposal, why in rejected:
                suppressed(counters, proposal.campaign_id, why.reason)
                settled = Why(proposal.campaign_id, why.reason, why.detail)
                decided.settled.append((cid, proposal.decision_id, settled))
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

    def scored_ttl_s(self) -> int:
        """Features wait for the send, then for the label (a generous bound)."""
        return int((self.pending_ttl + timedelta(days=3)).total_seconds())


def suppressed(counters: Counts, campaign_id: str, reason: str) -> None:
    counters[DecisionCount(campaign_id, "suppressed", reason)] += 1


SCORING_ERRORS = Plain("scoring_errors")
