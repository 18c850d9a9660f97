"""Planning a campaign's message for a trigger: channel, send time, policies, holdout, why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from stream_app.clock import to_ms
from stream_app.decisions.campaigns import Campaign, Urgency, WinBack
from stream_app.decisions.ids import decision_id
from stream_app.decisions.moments import outlook
from stream_app.decisions.planner import (
    Offer,
    Plan,
    Rules,
    ScoreAt,
    customer_hours,
    one_per_occurrence,
    pick_channel,
    plan,
)
from stream_app.decisions.policies import CHECKED, Caps, Sent, Suppressed
from stream_app.decisions.quiet import QuietHours
from stream_app.decisions.triggers import Hit
from stream_app.events.decision import Content, ContentItem
from stream_app.profiles.derive import ProfileView, ValueRules, derive
from stream_app.profiles.state import Decayed, ProfileState
from tests.unit.fixtures import NOW, reason

NEW_YORK = "America/New_York"
EVENING = datetime(2026, 6, 1, 23, tzinfo=UTC)  # 19:00 in New York, the customer's hour
MS = timedelta(milliseconds=1)
MIN = timedelta(minutes=1)
H = timedelta(hours=1)

RULES = Rules(
    caps=Caps(per_day={"push": 2, "email": 1}, per_week={}, global_per_day=None),
    quiet_hours=None,
    timing_prior=(1.0,) * 24,
    timing_prior_strength=1.0,
)
NIGHT = QuietHours(22, 8)
NO_OFFER = Offer(None)
#: Ten visits at 23:00 UTC on each weekday (70 in all) against a flat prior worth one.
EVENING_SHARE = (70 + 1 / 24) / 71
HIT = Hit(
    "win_back",
    "c-1",
    "winback:29643120",
    NOW,
    "no order for 20 days, usually every 10",
    (ContentItem(item_id="sku-1", category="toys"),),
    "toys",
)
CAMPAIGN = Campaign(
    id="winback",
    trigger=WinBack(),
    channels=("push", "email"),
    urgency=Urgency(latest=24 * H),
    holdout=0.0,
    priority=7,
    value=2.0,
    offer="ten-off",
    goal="visit",
    goal_window=6 * H,
)


def view_of(
    *,
    now: datetime = NOW,
    consent: Sequence[str] = ("push", "email"),
    fields: Mapping[str, int | str] | None = None,
    active: bool = True,
) -> ProfileView:
    """Customer c-1 in New York at ``now``, active at 19:00 local (unless not ``active``:
    no rhythm yet), opted in to ``consent``."""
    stored = {"n": "70", "first_seen": str(to_ms(NOW) - 400 * 86_400_000), "timezone": NEW_YORK}
    stored |= {f"consent:{channel}": "1" for channel in consent}
    hours = {str(day * 24 + 19): 10.0 for day in range(7)} if active else {}  # local
    rhythm = Decayed(to_ms(now), hours)
    return derive(
        ProfileState("c-1", stored | dict(fields or {}), rhythm=rhythm), now, ValueRules()
    )


def campaign(**changes: Any) -> Campaign:
    return Campaign.model_validate(CAMPAIGN.model_dump() | changes)


def run(
    hit: Hit = HIT,
    camp: Campaign = CAMPAIGN,
    view: ProfileView | None = None,
    history: Sequence[Sent] = (),
    rules: Rules = RULES,
    *,
    offer: Offer = NO_OFFER,
    score_at: ScoreAt | None = None,
    goal_at: datetime | None = None,
    prior: Sequence[float] | None = None,
) -> Plan | Suppressed:
    return plan(
        hit,
        camp,
        view or view_of(),
        history,
        rules,
        offer=offer,
        score_at=score_at,
        goal_at=goal_at,
        prior=prior,
    )


def planned(*args: Any, **kwargs: Any) -> Plan:
    result = run(*args, **kwargs)
    assert isinstance(result, Plan), result
    return result


# channel and consent


@pytest.mark.parametrize(
    ("consent", "channel"),
    [
        ({"push": True, "email": True}, "email"),
        ({"push": True}, "push"),
        ({"push": True, "email": False}, "push"),
        ({"sms": True}, None),
        ({}, None),
    ],
)
def test_pick_channel_is_the_campaigns_first_consented(
    consent: dict[str, bool], channel: str | None
) -> None:
    assert pick_channel(campaign(channels=("email", "push")), consent) == channel


def test_plan_uses_the_first_consented_channel() -> None:
    emailers = campaign(channels=("email", "push"))
    assert planned(camp=emailers).decision.channel == "email"
    opted_out = view_of(consent=("push",), fields={"consent:email": "0"})
    assert planned(camp=emailers, view=opted_out).decision.channel == "push"


def test_no_consent_is_suppressed() -> None:
    assert run(view=view_of(consent=())) == Suppressed("no_consent", "none of push, email")
    assert reason(run(view=view_of(consent=("sms",)))) == "no_consent"


# the urgency window


def test_a_window_already_over_is_expired() -> None:
    late = Hit("win_back", "c-1", "k", NOW - 24 * H - MS, "r")
    assert run(late) == Suppressed("expired", "urgency window over")
    ending_now = Hit("win_back", "c-1", "k", NOW - 24 * H, "r")
    assert planned(ending_now).decision.send_at == NOW, "the window includes its end"
    a_minute_left = Hit("win_back", "c-1", "k", NOW - 24 * H + MIN, "r")
    decision = planned(a_minute_left).decision
    assert decision.send_at == NOW
    assert decision.expires_at == NOW + MIN


def test_send_time_earliest_sends_at_the_window_start() -> None:
    assert planned(camp=campaign(send_time="earliest")).decision.send_at == NOW
    later_start = campaign(send_time="earliest", urgency=Urgency(earliest=2 * H, latest=24 * H))
    assert planned(camp=later_start).decision.send_at == NOW + 2 * H


def test_optimize_defers_to_the_customers_active_local_hour() -> None:
    result = planned()
    assert result.decision.send_at == EVENING
    assert result.proposal.send_at == EVENING
    # The chance a message at 19:00 is read, times the value left 11 h after the trigger.
    assert result.proposal.expected_value == pytest.approx(
        read_at(EVENING) * 2 ** (-11 / 24) * CAMPAIGN.value
    )


def read_at(moment: datetime, view: ProfileView | None = None) -> float:
    """The outlook's chance of a message at ``moment`` being read (New York hours)."""
    shown = view or view_of()
    hours = customer_hours(shown, RULES)
    look = outlook(shown.presence, None, NOW, hours, RULES.presence)
    return look.chance(to_ms(moment), moment.astimezone(ZoneInfo(NEW_YORK)).hour)


def in_session(started: timedelta, idle: timedelta) -> ProfileView:
    """c-1 in a session that began ``started`` ago, last active ``idle`` ago."""
    return view_of(fields={"ss": to_ms(NOW - started), "@ss": to_ms(NOW - idle), "gap:0": 30})


def test_an_active_shopper_hears_from_us_while_active() -> None:
    here = planned(view=in_session(20 * MIN, MIN)).decision
    assert here.send_at == NOW
    assert "in a session for 20 min (active 1 min ago)" in here.explanation
    assert "sending now: chance read" in here.explanation
    just_came = planned(view=in_session(MIN / 2, 0 * MIN)).decision
    assert "in a session (active just now)" in just_came.explanation
    gone = planned(view=in_session(4 * H, 3 * H)).decision  # left hours ago: their evening
    assert gone.send_at == EVENING
    assert "last active 3 h 0 min ago" in gone.explanation


def test_urgency_trades_waiting_against_value_lost() -> None:
    price_drop = campaign(urgency=Urgency(latest=24 * H, half_life=H))
    assert planned(camp=price_drop).decision.send_at == NOW  # 11 h of waiting: 1/2048 left
    win_back = campaign(urgency=Urgency(latest=24 * H, half_life=7 * 24 * H))
    assert planned(camp=win_back).decision.send_at == EVENING


def test_optimize_stays_inside_the_window() -> None:
    short = campaign(urgency=Urgency(latest=EVENING - NOW - MIN))
    assert planned(camp=short).decision.send_at < EVENING


def test_customer_hours_are_local_and_smoothed() -> None:
    hours = customer_hours(view_of(), RULES)
    assert len(hours) == 24
    assert sum(hours) == pytest.approx(1.0)
    assert hours[19] == pytest.approx(EVENING_SHARE)
    assert hours[23] == pytest.approx(1 / 24 / 71)
    # binned local when applied: a later zone change relabels nothing
    moved = customer_hours(view_of(fields={"timezone": "UTC"}), RULES)
    assert max(range(24), key=moved.__getitem__) == 19


def test_a_newcomer_is_timed_by_the_prior_a_regular_by_themself() -> None:
    lunch = tuple(1.0 if hour == 12 else 0.0 for hour in range(24))
    newcomer = view_of(fields={"n": "1"}, active=False)
    assert max(range(24), key=customer_hours(newcomer, RULES, lunch).__getitem__) == 12
    regular = customer_hours(view_of(), RULES, lunch)
    assert max(range(24), key=regular.__getitem__) == 19  # 70 own evenings outweigh it
    assert regular[12] == pytest.approx(1 / 71)
    sent = planned(HIT, CAMPAIGN, newcomer, prior=lunch).decision.send_at
    assert sent.astimezone(ZoneInfo(NEW_YORK)).hour == 12


# quiet hours (22:00-08:00 local)

LATE = datetime(2026, 6, 2, 3, tzinfo=UTC)  # 23:00 in New York
MORNING = datetime(2026, 6, 2, 12, tzinfo=UTC)  # 08:00 in New York, the end of the night


def quiet_plan(latest: timedelta) -> Plan | Suppressed:
    hit = Hit("win_back", "c-1", "k", LATE, "r")
    camp = campaign(send_time="earliest", urgency=Urgency(latest=latest))
    return run(hit, camp, view_of(now=LATE), rules=Rules(RULES.caps, NIGHT, (1.0,) * 24, 1.0))


def test_quiet_hours_move_the_send_to_their_end() -> None:
    for latest in (24 * H, MORNING - LATE + MIN):
        result = quiet_plan(latest)
        assert isinstance(result, Plan)
        assert result.decision.send_at == MORNING


def test_a_window_inside_quiet_hours_is_suppressed() -> None:
    assert quiet_plan(MORNING - LATE - MIN) == Suppressed(
        "quiet_hours", "no allowed moment in the urgency window"
    )


# contact policies


def test_a_cap_already_used_in_the_history_suppresses() -> None:
    push_once = campaign(channels=("push",), send_time="earliest")
    rules = Rules(Caps({"push": 1}, {}, None), None, (1.0,) * 24, 1.0)

    def with_earlier(at: datetime) -> Plan | Suppressed:
        return run(camp=push_once, rules=rules, history=[Sent("d-0", "other", "push", at)])

    assert with_earlier(NOW - 24 * H + MS) == Suppressed(
        "cap_day", "push in 24 h: 1 of 1 already used"
    )
    assert reason(with_earlier(NOW + 24 * H - MS)) == "cap_day"  # a scheduled one counts too
    assert reason(with_earlier(NOW - 24 * H)) is None
    assert reason(with_earlier(NOW + 24 * H)) is None
    email_only = run(camp=push_once, rules=rules, history=[Sent("d-0", "x", "email", NOW)])
    assert isinstance(email_only, Plan)


def test_goal_reached_after_the_trigger_suppresses() -> None:
    assert reason(run(goal_at=HIT.at)) == "goal_reached"
    assert reason(run(goal_at=HIT.at + H)) == "goal_reached"
    assert reason(run(goal_at=HIT.at - MS)) is None


def test_the_same_decision_already_scheduled_is_a_duplicate() -> None:
    did = decision_id(CAMPAIGN.id, "c-1", HIT.key)
    assert reason(run(history=[Sent(did, CAMPAIGN.id, "push", EVENING)])) == "duplicate"


# holdout


@pytest.mark.parametrize(("share", "held_out"), [(1.0, True), (0.0, False)])
def test_holdout_share_decides_the_flag(share: float, held_out: bool) -> None:
    result = planned(camp=campaign(holdout=share))
    assert result.decision.holdout is held_out
    assert result.decision.send_at == EVENING  # planned the same either way


# the decision


def test_decision_id_is_the_campaign_customer_and_occurrence() -> None:
    first = planned().decision.decision_id
    assert first == decision_id("winback", "c-1", HIT.key)
    assert planned(view=view_of(now=NOW + H)).decision.decision_id == first
    other_key = Hit("win_back", "c-1", "winback:1", NOW, "r")
    assert planned(other_key).decision.decision_id != first
    assert planned(camp=campaign(id="winback_2")).decision.decision_id != first


def test_plan_carries_content_policies_and_goal() -> None:
    result = planned(offer=Offer("five-off", 0.4))
    decision = result.decision
    assert (decision.customer_id, decision.campaign_id, decision.trigger) == (
        "c-1",
        "winback",
        "win_back",
    )
    assert decision.content == Content(
        template="winback",
        offer="five-off",
        category="toys",
        items=[ContentItem(item_id="sku-1", category="toys")],
    )
    assert decision.propensity == 0.4
    assert (decision.decided_at, decision.expires_at) == (NOW, NOW + 24 * H)
    assert decision.trigger_event_id is None
    assert decision.policies == list(CHECKED)
    assert (result.goal, result.goal_window, result.stratum) == ("visit", 6 * H, "regular")
    proposal = result.proposal
    assert (proposal.decision_id, proposal.channel) == (decision.decision_id, "push")
    assert (proposal.priority, proposal.cooldown) == (7, CAMPAIGN.cooldown)
    assert (proposal.trigger_at, proposal.expires_at) == (NOW, NOW + 24 * H)
    assert planned().decision.content.offer == "ten-off"  # no chosen offer: the campaign's


def test_a_cart_decision_names_its_trigger_event() -> None:
    cart = Hit("cart_abandonment", "c-1", "e-42", NOW, "cart of 1 item idle 30 min")
    assert planned(cart).decision.trigger_event_id == "e-42"


def test_explanation_says_why_when_and_how_much_contact() -> None:
    assert planned().decision.explanation == (
        "no order for 20 days, usually every 10; "
        "usually active 19:00-20:00 local; sending in 11 h 0 min at 19:00: "
        "chance read 0.19 then against 0.00 now, 73% of its value left; "
        "1st push in 24 h of 2 allowed"
    )
    now = planned(camp=campaign(send_time="earliest"), history=[Sent("d-0", "x", "push", NOW - H)])
    assert now.decision.explanation == (
        "no order for 20 days, usually every 10; "
        "usually active 19:00-20:00 local; sending now; "
        "2nd push in 24 h of 2 allowed"
    )


# the engagement model


def test_score_at_changes_the_chosen_time() -> None:
    afternoon = datetime(2026, 6, 1, 15, tzinfo=UTC)  # 11:00 in New York

    def score_at(moments: Sequence[datetime]) -> list[float]:
        return [1.0 if moment == afternoon else 1e-4 for moment in moments]

    result = planned(score_at=score_at)
    assert result.decision.send_at == afternoon
    kept = 2 ** (-(afternoon - NOW) / timedelta(days=1))
    assert result.proposal.expected_value == pytest.approx(
        read_at(afternoon) * kept * CAMPAIGN.value
    )


def test_send_time_earliest_ignores_the_score() -> None:
    calls: list[datetime] = []

    def score_at(moments: Sequence[datetime]) -> list[float]:
        calls.extend(moments)
        return [1.0] * len(moments)

    assert planned(camp=campaign(send_time="earliest"), score_at=score_at).decision.send_at == NOW
    assert calls == []


# one trigger occurrence, one decision


def test_one_occurrence_matched_by_several_campaigns_yields_the_best_ranked_one() -> None:
    main = planned(HIT, campaign(id="main", priority=30))
    fallback = planned(HIT, campaign(id="fallback", priority=20))
    richer = planned(HIT, campaign(id="richer", priority=30, value=5.0))
    other = planned(Hit("win_back", "c-1", "k-2", HIT.at, "r"), campaign(id="other"))
    kept, dropped = one_per_occurrence([fallback, main, other, richer])
    assert [p.proposal.campaign_id for p in kept] == ["richer", "other"]
    assert {p.proposal.campaign_id for p in dropped} == {"main", "fallback"}
