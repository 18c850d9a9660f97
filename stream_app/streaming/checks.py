"""Scheduled checks as the pass reads them, and what each kind decides.

Kinds of checks (``storage.layout.Check``): ``cart`` (an idle cart), ``seg`` (segments
and profile triggers, when time alone may change them), ``send`` (a planned decision's
send time), ``label`` (the end of a decision's attribution window), ``park`` (readings
of an unlinked device at the end of their grace). No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from stream_app.decisions.campaigns import Campaign, CartAbandonment
from stream_app.decisions.cart_abandonment import CartSnapshot, cart_abandonment
from stream_app.decisions.planner import Rules, customer_quiet, goal_time, recovering_until
from stream_app.decisions.policies import (
    Allowed,
    Proposal,
    Sent,
    Suppressed,
    check,
    goods_returned,
)
from stream_app.decisions.triggers import Hit, Wait
from stream_app.profiles.derive import ProfileView
from stream_app.storage.decisions import PendingDecision
from stream_app.storage.layout import parse_check


@dataclass(slots=True)
class DueChecks:
    """Claimed checks by kind: customers for cart and segment checks, (customer,
    decision) pairs for send and label checks, device tokens for park checks, each with
    its due time (ms)."""

    cart: dict[str, int] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)
    sends: dict[tuple[str, str], int] = field(default_factory=dict)
    labels: dict[tuple[str, str], int] = field(default_factory=dict)
    parked: dict[str, int] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, claimed: Mapping[str, int]) -> DueChecks:
        """Sort claimed members by kind (unknown kinds are finished, not run).

        >>> DueChecks.of({"cart:c-1": 5, "send:c-1|d-9": 7, "x:y": 1}).sends
        {('c-1', 'd-9'): 7}
        """
        checks = cls()
        for member, due in claimed.items():
            match parse_check(member):
                case None:
                    checks.unknown.append(member)
                case ("cart", customer, _):
                    checks.cart[customer] = due
                case ("seg", customer, _):
                    checks.segments[customer] = due
                case ("send", customer, decision):
                    checks.sends[(customer, decision)] = due
                case ("label", customer, decision):
                    checks.labels[(customer, decision)] = due
                case ("park", token, _):
                    checks.parked[token] = due
        return checks

    def customers(self) -> list[str]:
        """Customers whose profile and decisions the checks read (labels read none)."""
        found = {*self.cart, *self.segments, *(cid for cid, _ in self.sends)}
        return sorted(found)


def cart_hits(
    view: ProfileView, campaigns: Sequence[Campaign], now: datetime
) -> tuple[list[Hit], datetime | None, list[str]]:
    """An idle cart's hits for the cart campaigns, when to look again (an add too recent
    for some campaign), and why others found nothing."""
    snapshot = CartSnapshot(
        view.customer_id,
        view.cart_lines,
        view.last_of("checkout_start"),
        view.last_of("purchase"),
    )
    hits: list[Hit] = []
    waits: list[datetime] = []
    nothing: list[str] = []
    for campaign in campaigns:
        assert isinstance(campaign.trigger, CartAbandonment)
        match cart_abandonment(snapshot, campaign.trigger, now):
            case Hit() as hit:
                hits.append(hit)
            case Wait(due):
                waits.append(due)
            case str(reason):
                nothing.append(reason)
    return hits, min(waits, default=None), nothing


def recheck(
    item: PendingDecision,
    view: ProfileView | None,
    history: Sequence[Sent],
    rules: Rules,
    now: datetime,
    campaign: Campaign | None = None,
) -> Allowed | Suppressed:
    """A planned decision at its send time: consent, quiet hours, caps and cooldown are
    checked again (history changed since); a goal reached meanwhile cancels it, and so
    do goods returned for a replenishment or cross-sell ``campaign``."""
    d = item.decision
    if view is None:
        return Suppressed("no_consent", "profile gone")
    if campaign is not None and (
        campaign.trigger.type == "replenishment" or campaign.content == "cross_sell"
    ):
        returned = goods_returned(view.returned_at, item.trigger_at)
        if returned is not None:
            return returned
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
        kind="marketing" if campaign is None else campaign.kind,
    )
    return check(
        proposal,
        at=now,
        consent=view.consent,
        history=[s for s in history if s.decision_id != d.decision_id],
        caps=rules.caps,
        quiet=customer_quiet(rules, view, d.channel),
        timezone=view.local_zone,
        goal_at=goal_time(view, item.goal),
        recovering_until=recovering_until(view, rules),
    )
