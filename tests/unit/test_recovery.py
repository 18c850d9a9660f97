"""Service recovery: a complaint triggers customer care at once, not held by marketing caps
or quiet hours, and pauses marketing to the customer for the cool-down (docs/decisions.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

from stream_app.clock import to_ms
from stream_app.decisions.campaigns import Campaign, NegativeRemark, Urgency, WinBack
from stream_app.decisions.planner import Offer, Plan, Rules, plan
from stream_app.decisions.policies import (
    Allowed,
    Caps,
    Proposal,
    Sent,
    Suppressed,
    arbitrate,
    check,
)
from stream_app.decisions.quiet import QuietHours
from stream_app.decisions.triggers import Hit, negative_remark, profile_hits
from stream_app.events.decision import Content, Decision
from stream_app.profiles.derive import ProfileView, ValueRules, derive
from stream_app.profiles.mood import NEGATIVE_FIELD
from stream_app.profiles.state import ProfileState
from stream_app.storage.decisions import PendingDecision
from stream_app.streaming.checks import recheck
from tests.unit.fixtures import NOW

H = timedelta(hours=1)
DAY = timedelta(days=1)
SAID = NOW - 10 * timedelta(minutes=1)
RULES = Rules(
    caps=Caps(per_day={"push": 1, "email": 1}, per_week={}, global_per_day=1),
    quiet_hours=QuietHours(0, 23),  # nearly always quiet: marketing would wait
    timing_prior=(1.0,) * 24,
    timing_prior_strength=1.0,
    recovery_cooldown=7 * DAY,
)
CARE = Campaign(
    id="service_recovery",
    kind="service",
    trigger=NegativeRemark(within=DAY),
    channels=("email", "push"),
    urgency=Urgency(latest=12 * H),
    send_time="earliest",
    priority=100,
    holdout=0.0,
    goal="visit",
)
PROMO = Campaign(id="winback", trigger=WinBack(), channels=("push",), holdout=0.0)


def view_of(*, complained: datetime | None = SAID, now: datetime = NOW) -> ProfileView:
    fields: dict[str, int | str] = {"n": 5, "first_seen": to_ms(NOW - 90 * DAY)}
    fields |= {"consent:email": "1", "consent:push": "1"}
    complaints = {}
    if complained is not None:
        fields[NEGATIVE_FIELD] = to_ms(complained)
        complaints = {"e-9": [to_ms(complained), "support_chat", "order:o-1", -0.8]}
    return derive(ProfileState("c-1", fields, complaints=complaints), now, ValueRules())


def test_a_complaint_is_a_hit_once_keyed_by_its_time_explained_without_text() -> None:
    hit = negative_remark(view_of(), NegativeRemark(within=DAY))
    assert isinstance(hit, Hit)
    assert hit.key == f"remark:{to_ms(SAID)}"
    assert hit.at == SAID
    assert hit.reason == "negative remark (support_chat about order:o-1, polarity -0.80)"
    again = negative_remark(view_of(now=NOW + H), NegativeRemark(within=DAY))
    assert again is not None
    assert again.key == hit.key


def test_no_hit_without_a_complaint_or_once_it_is_too_old() -> None:
    assert negative_remark(view_of(complained=None), NegativeRemark()) is None
    assert negative_remark(view_of(now=SAID + 2 * DAY), NegativeRemark(within=DAY)) is None


def test_only_remarks_make_the_trigger_look_again() -> None:
    view = view_of()
    assert profile_hits(view, [], [CARE], changed={"product_view"})[0] == []
    assert len(profile_hits(view, [], [CARE], changed={"comment"})[0]) == 1


def test_care_goes_at_once_despite_caps_and_quiet_hours() -> None:
    hit = negative_remark(view_of(), NegativeRemark(within=DAY))
    assert hit is not None
    full = [Sent("d-0", "promo", "email", NOW - H), Sent("d-1", "promo", "push", NOW - H)]
    result = plan(hit, CARE, view_of(), full, RULES, offer=Offer(None))
    assert isinstance(result, Plan), result
    assert result.decision.send_at == NOW
    assert result.proposal.kind == "service"
    assert result.decision.holdout is False
    assert result.decision.explanation.startswith("negative remark (support_chat")
    assert "service message" in result.decision.explanation


def test_care_still_needs_consent() -> None:
    hit = negative_remark(view_of(), NegativeRemark(within=DAY))
    assert hit is not None
    view = derive(ProfileState("c-1", {"n": 1, NEGATIVE_FIELD: to_ms(SAID)}), NOW, ValueRules())
    result = plan(hit, CARE, view, [], RULES, offer=Offer(None))
    assert isinstance(result, Suppressed)
    assert result.reason == "no_consent"


def proposal(kind: str, at: datetime = NOW, did: str = "d-m") -> Proposal:
    return Proposal(did, "c-1", did, "push", 1, 1.0, at, at + DAY, at, timedelta(0), kind)


def test_marketing_is_suppressed_during_the_cool_down_service_is_not() -> None:
    until = SAID + 7 * DAY

    def judged(kind: str, at: datetime) -> Allowed | Suppressed:
        return check(
            proposal(kind, at),
            at=at,
            consent={"push": True},
            history=[],
            caps=RULES.caps,
            quiet=None,
            timezone=None,
            goal_at=None,
            recovering_until=until,
        )

    verdict = judged("marketing", NOW)
    assert isinstance(verdict, Suppressed)
    assert verdict.reason == "service_recovery"
    assert isinstance(judged("marketing", until), Allowed)
    assert isinstance(judged("service", NOW), Allowed)


def test_arbitration_lets_care_through_and_holds_marketing_back() -> None:
    accepted, rejected = arbitrate(
        [proposal("marketing", did="d-promo"), proposal("service", did="d-care")],
        history=[],
        caps=RULES.caps,
        consent={"push": True},
        quiet=None,
        timezone=None,
        goal_at={},
        recovering_until=SAID + 7 * DAY,
    )
    assert [p.decision_id for p in accepted] == ["d-care"]
    assert [(p.decision_id, why.reason) for p, why in rejected] == [("d-promo", "service_recovery")]


def test_a_pending_marketing_message_is_suppressed_at_its_send_time() -> None:
    planned_at = NOW - DAY  # planned before the complaint, due now
    decision = Decision(
        decision_id="d-p",
        customer_id="c-1",
        campaign_id="winback",
        channel="push",
        content=Content(template="winback"),
        decided_at=planned_at,
        send_at=NOW,
        expires_at=NOW + DAY,
        trigger="win_back",
        explanation="no order for 20 days",
    )
    item = PendingDecision(decision, "regular", "visit", DAY, planned_at, timedelta(0))
    rules = Rules(RULES.caps, None, (1.0,) * 24, 1.0, recovery_cooldown=7 * DAY)
    verdict = recheck(item, view_of(), [], rules, NOW, PROMO)
    assert isinstance(verdict, Suppressed)
    assert verdict.reason == "service_recovery"
    assert isinstance(recheck(item, view_of(complained=None), [], rules, NOW, PROMO), Allowed)
