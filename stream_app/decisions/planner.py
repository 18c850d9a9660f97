"""From a trigger to a planned decision: audience, channel, holdout, send time, policies.

Pure: the worker hands in the profile view, the contact history and, when the
engagement model is wanted, a scoring function; it gets back either a plan to
schedule or a suppression with its reason. Policies are checked here at the
planned send time, and again by the worker when the time comes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from stream_app.clock import ms_or_none, to_ms
from stream_app.decisions.campaigns import Campaign
from stream_app.decisions.holdout import in_holdout
from stream_app.decisions.ids import decision_id
from stream_app.decisions.moments import Decay, Outlook, PresencePriors, describe_moment, outlook
from stream_app.decisions.policies import (
    CHECKED,
    Allowed,
    Caps,
    Proposal,
    Sent,
    Suppressed,
    check,
    goal_reached,
)
from stream_app.decisions.quiet import QuietFit, QuietHours, fit, opened_note
from stream_app.decisions.timing import (
    SendPlan,
    daily_profile,
    describe_plan,
    plan_send,
    smoothed_shares,
)
from stream_app.decisions.triggers import Hit
from stream_app.events.base import Channel
from stream_app.events.decision import Content, Decision
from stream_app.profiles.derive import ProfileView

#: What the engagement model says of a message sent at each of some moments.
ScoreAt = Callable[[Sequence[datetime]], Sequence[float]]


@dataclass(frozen=True, slots=True)
class Rules:
    """Engine-wide decision rules (from settings)."""

    caps: Caps
    #: The store's quiet hours: everyone's default (``customer_quiet`` fits them).
    quiet_hours: QuietHours | None
    #: 24 local hour-of-day activity weights: the prior before anything is learned.
    timing_prior: tuple[float, ...]
    #: Weight of the prior, in events: a customer with this many events is half own rhythm.
    timing_prior_strength: float
    #: Weight of each learned prior layer (everyone's, a segment's), in customers.
    timing_layer_strength: float = 20.0
    holdout_salt: str = ""
    #: The presence prior until everyone's is learned.
    presence: PresencePriors = field(default_factory=PresencePriors)
    #: Legal quiet hours: on top of the store's, never opened.
    legal_quiet_hours: QuietHours | None = None
    #: When a customer's own activity opens hours of the store's quiet hours.
    quiet_fit: QuietFit = field(default_factory=QuietFit)
    #: How long marketing is suppressed after a customer's complaint (``service_recovery``).
    recovery_cooldown: timedelta = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Offer:
    """Content chosen for the message (by the bandit or fixed by the campaign)."""

    offer: str | None
    propensity: float | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A decision ready to be scheduled (or, for a holdout, recorded at its send time)."""

    decision: Decision
    proposal: Proposal
    stratum: str
    goal: str
    goal_window: timedelta
    #: The trigger occurrence answered: one occurrence gets one decision, whatever the
    #: number of campaigns it matches.
    occurrence: tuple[str, str]


def pick_channel(campaign: Campaign, consent: Mapping[str, bool]) -> Channel | None:
    """The campaign's first channel the customer consented to."""
    return next((c for c in campaign.channels if consent.get(c) is True), None)


def goal_time(view: ProfileView, goal: str) -> datetime | None:
    """When the customer last reached ``goal``: last order for ``purchase``, last
    clickstream event for ``visit``. A goal reached after the trigger cancels the message."""
    if goal == "visit":
        return view.last_visit
    if view.recency_days is None:
        return None
    return view.now - timedelta(days=view.recency_days)


def recovering_until(view: ProfileView, rules: Rules) -> datetime | None:
    """The end of the marketing cool-down after the customer's last complaint (None: none)."""
    at = view.last_negative_at
    return None if at is None else at + rules.recovery_cooldown


def customer_quiet(rules: Rules, view: ProfileView, channel: str) -> QuietHours | None:
    """The customer's quiet hours on ``channel``: the store's, opened where their own
    activity is consistent (``quiet.fit``; only on the channels that allow it), the
    legal ones on top. Planning, arbitration and the send-time check all judge by it."""
    store, legal = rules.quiet_hours, rules.legal_quiet_hours
    if store is None:
        return legal
    quiet = store if legal is None else QuietHours(store.start, store.end, legal=legal)
    if channel not in rules.quiet_fit.channels:
        return quiet
    return fit(quiet, view.rhythm_local, rules.quiet_fit)


def customer_hours(
    view: ProfileView, rules: Rules, prior: Sequence[float] | None = None
) -> tuple[float, ...]:
    """The customer's activity by local hour of day, pulled toward ``prior`` (their
    segments' and everyone's, ``timing.layered_prior``; the typical day if not given)
    when their own history is thin."""
    return smoothed_shares(
        daily_profile(view.rhythm_local),
        rules.timing_prior if prior is None else prior,
        rules.timing_prior_strength,
    )


def plan(
    hit: Hit,
    campaign: Campaign,
    view: ProfileView,
    history: Sequence[Sent],
    rules: Rules,
    *,
    offer: Offer,
    score_at: ScoreAt | None = None,
    goal_at: datetime | None = None,
    prior: Sequence[float] | None = None,
    presence: PresencePriors | None = None,
) -> Plan | Suppressed:
    """Plan ``campaign``'s message for ``hit``, or say why not.

    The send time maximises the chance the message is read (``moments.Outlook``: the session
    open now, how soon the customer comes back, their hours; ``presence``: everyone's learned
    presence, else ``rules.presence``) times the share of the campaign's value left then (its
    ``urgency.half_life``), times the model's score when ``score_at`` is given, in the
    urgency window, outside quiet hours (service has none); ``send_time = "earliest"`` skips it.
    """
    channel = pick_channel(campaign, view.consent)
    if channel is None:
        return Suppressed("no_consent", f"none of {', '.join(campaign.channels)}")
    earliest = max(view.now, hit.at + campaign.urgency.earliest)
    latest = hit.at + campaign.urgency.latest
    if latest < earliest:
        return Suppressed("expired", "urgency window over")
    reached = goal_reached(goal_at, hit.at)  # before timing: nothing to time then
    if reached is not None:
        return reached
    hours = customer_hours(view, rules, prior)
    chosen = _chosen_on(hit, campaign, view, hours, presence or rules.presence)
    quiet = None if campaign.kind == "service" else customer_quiet(rules, view, channel)
    timing = plan_send(
        earliest=earliest,
        latest=latest,
        timezone=view.local_zone,
        hourly=None if chosen else (1.0,) * 24,
        quiet=quiet,
        score_at=score_at if chosen else None,
        value_at=None if chosen is None else moment_value(*chosen),
    )
    if timing is None:
        return Suppressed("quiet_hours", "no allowed moment in the urgency window")
    proposal = _proposal(hit, campaign, channel, timing, latest)
    verdict = check(
        proposal,
        at=timing.send_at,
        consent=view.consent,
        history=history,
        caps=rules.caps,
        quiet=quiet,
        timezone=view.local_zone,
        goal_at=goal_at,
        recovering_until=recovering_until(view, rules),
    )
    if isinstance(verdict, Suppressed):
        return verdict
    holdout = in_holdout(hit.customer_id, campaign.id, campaign.holdout, rules.holdout_salt)
    decision = _decision(
        hit,
        campaign,
        proposal,
        channel=channel,
        offer=offer,
        holdout=holdout,
        decided_at=view.now,
        explanation=explain(
            hit, timing, verdict, view.now, hours, chosen, opened_note(quiet, timing.local_hour)
        ),
    )
    return Plan(
        decision,
        proposal,
        view.tier,
        campaign.goal,
        campaign.goal_window,
        (hit.trigger, hit.key),
    )


def _proposal(
    hit: Hit, campaign: Campaign, channel: Channel, timing: SendPlan, latest: datetime
) -> Proposal:
    """What the policies judge: the message at its planned send time."""
    return Proposal(
        decision_id=decision_id(campaign.id, hit.customer_id, hit.key),
        customer_id=hit.customer_id,
        campaign_id=campaign.id,
        channel=channel,
        priority=campaign.priority,
        expected_value=timing.expected * campaign.value,
        send_at=timing.send_at,
        expires_at=latest,
        trigger_at=hit.at,
        cooldown=campaign.cooldown,
        kind=campaign.kind,
    )


def _decision(
    hit: Hit,
    campaign: Campaign,
    proposal: Proposal,
    *,
    channel: Channel,
    offer: Offer,
    holdout: bool,
    decided_at: datetime,
    explanation: str,
) -> Decision:
    """The decision event for an allowed proposal (published when its send time comes)."""
    return Decision(
        decision_id=proposal.decision_id,
        customer_id=hit.customer_id,
        campaign_id=campaign.id,
        channel=channel,
        content=Content(
            template=campaign.template_name,
            offer=offer.offer if offer.offer is not None else campaign.offer,
            category=hit.category,
            items=list(hit.items),
        ),
        decided_at=decided_at,
        send_at=proposal.send_at,
        expires_at=proposal.expires_at,
        trigger=hit.trigger,
        trigger_event_id=hit.key if hit.trigger == "cart_abandonment" else None,
        holdout=holdout,
        policies=list(CHECKED),
        propensity=offer.propensity,
        explanation=explanation,
    )


def one_per_occurrence(plans: Sequence[Plan]) -> tuple[list[Plan], list[Plan]]:
    """One plan per trigger occurrence: the best-ranked campaign's (priority, then expected
    value, as ``arbitrate`` ranks). Returns (kept, dropped as duplicates), best first."""
    best: dict[tuple[str, str], Plan] = {}
    dropped: list[Plan] = []
    ranked = sorted(
        plans,
        key=lambda p: (-p.proposal.priority, -p.proposal.expected_value, p.decision.decision_id),
    )
    for p in ranked:
        if p.occurrence in best:
            dropped.append(p)
        else:
            best[p.occurrence] = p
    return list(best.values()), dropped


def explain(
    hit: Hit,
    timing: SendPlan,
    verdict: Allowed,
    now: datetime,
    hours: Sequence[float],
    chosen: tuple[Outlook, Decay] | None = None,
    quiet_note: str | None = None,
) -> str:
    """One line a person can check: why, why this moment, why inside the store's quiet
    hours (an hour the customer's activity opened), and how much contact it adds.
    ``chosen``: what the moment was chosen on (the outlook and the campaign's decay);
    without it (``send_time = "earliest"``) the customer's ``hours`` are described."""
    if chosen is None:
        moment = describe_plan(timing, hours, now)
    else:
        moment = describe_moment(timing, *chosen, now)
    parts = [hit.reason, moment, quiet_note, verdict.note]
    return "; ".join(part for part in parts if part)[:500]


def _chosen_on(
    hit: Hit,
    campaign: Campaign,
    view: ProfileView,
    hours: Sequence[float],
    presence: PresencePriors,
) -> tuple[Outlook, Decay] | None:
    """What the send time is chosen on: the customer's outlook and the campaign's decay;
    None when the campaign sends at the earliest moment."""
    if campaign.send_time != "optimize":
        return None
    look = outlook(view.presence, ms_or_none(view.first_seen), view.now, hours, presence)
    return look, Decay(to_ms(hit.at), campaign.urgency.half_life)


def moment_value(look: Outlook, decay: Decay) -> Callable[[datetime, int], float]:
    """What sending at a moment is worth: the chance it is read, times the value left."""

    def value(moment: datetime, local_hour: int) -> float:
        at_ms = to_ms(moment)
        return look.chance(at_ms, local_hour) * decay.kept(at_ms)

    return value
