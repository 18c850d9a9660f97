from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stream_app.decisions.policies import (
    REASONS,
    Allowed,
    Caps,
    Proposal,
    Sent,
    Suppressed,
    Verdict,
    arbitrate,
    busiest,
    check,
)
from stream_app.decisions.quiet import QuietHours
from tests.unit.fixtures import NOW, reason

H = timedelta(hours=1)
NO_CAPS = Caps({}, {}, None)
PUSH_OK = {"push": True, "email": True}


def proposal(
    decision_id: str = "d-1",
    *,
    campaign: str = "cart",
    channel: str = "push",
    priority: int = 1,
    value: float = 1.0,
    send_at: datetime = NOW,
    cooldown: timedelta = timedelta(0),
) -> Proposal:
    return Proposal(
        decision_id=decision_id,
        customer_id="c-1",
        campaign_id=campaign,
        channel=channel,
        priority=priority,
        expected_value=value,
        send_at=send_at,
        expires_at=NOW + 12 * H,
        trigger_at=NOW - 2 * H,
        cooldown=cooldown,
    )


def sent(at: datetime, *, campaign: str = "promo", channel: str = "push", did: str = "") -> Sent:
    return Sent(did or f"s-{campaign}-{channel}-{at.isoformat()}", campaign, channel, at)


def judge(
    p: Proposal,
    *,
    at: datetime = NOW,
    consent: Mapping[str, bool] = PUSH_OK,
    history: Sequence[Sent] = (),
    caps: Caps = NO_CAPS,
    quiet: QuietHours | None = None,
    timezone: str | None = None,
    goal_at: datetime | None = None,
    recovering_until: datetime | None = None,
) -> Verdict:
    return check(
        p,
        at=at,
        consent=consent,
        history=history,
        caps=caps,
        quiet=quiet,
        timezone=timezone,
        goal_at=goal_at,
        recovering_until=recovering_until,
    )


def test_plain_proposal_is_allowed_with_a_note() -> None:
    assert judge(proposal()) == Allowed("no cap on push")


def test_documented_suppression_reasons_are_the_vocabulary() -> None:
    """docs/redis-keys.md lists exactly ``REASONS`` (their order is checked by behaviour,
    in ``test_first_failure_wins_in_the_documented_order`` and the caps test)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "redis-keys.md").read_text()
    listed = text.split("Suppression reasons:", 1)[1].split(".\n", 1)[0]
    assert sorted(re.findall(r"`(\w+)`", listed)) == sorted(REASONS)


# --- expired ---------------------------------------------------------------


def test_expired_after_expiry_not_at_or_before() -> None:
    p = proposal()
    assert reason(judge(p, at=p.expires_at + timedelta(seconds=1))) == "expired"
    assert reason(judge(p, at=p.expires_at + H)) == "expired"
    assert isinstance(judge(p, at=p.expires_at), Allowed)
    assert isinstance(judge(p, at=p.expires_at - timedelta(seconds=1)), Allowed)


# --- consent ----------------------------------------------------------------


@pytest.mark.parametrize("consent", [{}, {"push": False}, {"email": True}])
def test_no_consent_unless_the_channel_is_explicitly_true(consent: dict[str, bool]) -> None:
    assert reason(judge(proposal(), consent=consent)) == "no_consent"


def test_consent_on_the_proposals_channel_suffices() -> None:
    assert isinstance(judge(proposal(channel="email"), consent={"email": True}), Allowed)


# --- goal -------------------------------------------------------------------


def test_goal_reached_at_or_after_the_trigger() -> None:
    p = proposal()
    assert reason(judge(p, goal_at=p.trigger_at)) == "goal_reached"
    assert reason(judge(p, goal_at=p.trigger_at + H)) == "goal_reached"


def test_goal_before_the_trigger_is_an_older_conversion() -> None:
    p = proposal()
    assert isinstance(judge(p, goal_at=p.trigger_at - timedelta(seconds=1)), Allowed)


# --- duplicate ----------------------------------------------------------------


def test_duplicate_decision_id_in_history() -> None:
    history = [sent(NOW - 3 * H, campaign="cart", did="d-1")]
    verdict = judge(proposal("d-1"), history=history)
    assert verdict == Suppressed("duplicate", "decision d-1 already in the contact history")
    assert isinstance(judge(proposal("d-2"), history=history), Allowed)


# --- quiet hours -------------------------------------------------------------


def test_quiet_hours_in_the_customers_zone() -> None:
    # 20:30 UTC is 22:30 in Paris (CEST, UTC+2): quiet there, not in UTC.
    at = datetime(2026, 6, 1, 20, 30, tzinfo=UTC)
    night = QuietHours(22, 8)
    p = proposal(send_at=at)
    verdict = judge(p, at=at, quiet=night, timezone="Europe/Paris")
    assert verdict == Suppressed(
        "quiet_hours", "22:30 in Europe/Paris is within quiet hours 22:00-08:00"
    )
    assert isinstance(judge(p, at=at, quiet=night, timezone="UTC"), Allowed)


def test_quiet_hours_end_boundary_in_a_zone_west_of_utc() -> None:
    night = QuietHours(22, 8)
    # 12:00 UTC = 08:00 in New York (EDT): quiet just ended; 11:59 UTC = 07:59: still quiet.
    assert isinstance(judge(proposal(), at=NOW, quiet=night, timezone="America/New_York"), Allowed)
    earlier = NOW - timedelta(minutes=1)
    verdict = judge(proposal(), at=earlier, quiet=night, timezone="America/New_York")
    assert reason(verdict) == "quiet_hours"


@pytest.mark.parametrize("zone", [None, "", "Not/AZone", "Europe", "../etc/passwd"])
def test_unknown_or_invalid_zone_falls_back_to_utc(zone: str | None) -> None:
    night = QuietHours(22, 8)
    at = datetime(2026, 6, 1, 23, 0, tzinfo=UTC)
    assert reason(judge(proposal(), at=at, quiet=night, timezone=zone)) == "quiet_hours"
    assert isinstance(judge(proposal(), at=NOW, quiet=night, timezone=zone), Allowed)


def test_no_quiet_hours_configured() -> None:
    at = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
    assert isinstance(judge(proposal(), at=at, quiet=None, timezone="UTC"), Allowed)


# --- cooldown -----------------------------------------------------------------


def test_cooldown_same_campaign_within_the_gap() -> None:
    p = proposal(cooldown=24 * H)
    assert reason(judge(p, history=[sent(NOW - 23 * H, campaign="cart")])) == "cooldown"


def test_cooldown_boundary_and_other_campaigns() -> None:
    p = proposal(cooldown=24 * H)
    assert isinstance(judge(p, history=[sent(NOW - 24 * H, campaign="cart")]), Allowed)
    assert isinstance(judge(p, history=[sent(NOW - H, campaign="promo")]), Allowed)


def test_cooldown_also_looks_at_scheduled_messages_after_at() -> None:
    p = proposal(cooldown=24 * H)
    assert reason(judge(p, history=[sent(NOW + 5 * H, campaign="cart")])) == "cooldown"
    assert isinstance(judge(p, history=[sent(NOW + 24 * H, campaign="cart")]), Allowed)


def test_zero_cooldown_allows_back_to_back() -> None:
    assert isinstance(judge(proposal(), history=[sent(NOW, campaign="cart")]), Allowed)


# --- caps ---------------------------------------------------------------------


def test_cap_day_counts_the_rolling_24_hours_on_the_channel() -> None:
    caps = Caps({"push": 2}, {}, None)
    history = [sent(NOW - 23 * H), sent(NOW - H)]
    verdict = judge(proposal(), history=history, caps=caps)
    assert verdict == Suppressed("cap_day", "push in 24 h: 2 of 2 already used")


def test_cap_day_message_exactly_24_hours_ago_no_longer_counts() -> None:
    caps = Caps({"push": 2}, {}, None)
    history = [sent(NOW - 24 * H), sent(NOW - H)]
    assert judge(proposal(), history=history, caps=caps) == Allowed("2nd push in 24 h of 2 allowed")


def test_cap_day_ignores_other_channels() -> None:
    caps = Caps({"push": 1}, {}, None)
    assert isinstance(
        judge(proposal(), history=[sent(NOW - H, channel="email")], caps=caps), Allowed
    )


def test_cap_week_counts_the_rolling_7_days() -> None:
    caps = Caps({"push": 5}, {"push": 3}, None)
    history = [sent(NOW - d * 24 * H - H) for d in (1, 3, 6)]
    assert reason(judge(proposal(), history=history, caps=caps)) == "cap_week"
    boundary = [sent(NOW - 7 * 24 * H), *history[1:]]
    verdict = judge(proposal(), history=boundary, caps=caps)
    assert verdict == Allowed("3rd push this week of 3 allowed")


def test_global_cap_counts_every_channel_and_campaign() -> None:
    caps = Caps({"push": 5}, {}, 2)
    history = [sent(NOW - H, channel="email"), sent(NOW - 2 * H, channel="sms", campaign="x")]
    verdict = judge(proposal(), history=history, caps=caps)
    assert verdict == Suppressed(
        "global_cap", "message in 24 h (all channels): 2 of 2 already used"
    )
    older = [sent(NOW - 24 * H, channel="email"), history[1]]
    assert isinstance(judge(proposal(), history=older, caps=caps), Allowed)


def test_zero_cap_forbids_the_channel() -> None:
    assert reason(judge(proposal(), caps=Caps({"push": 0}, {}, None))) == "cap_day"


def test_scheduled_messages_after_at_count_when_deciding() -> None:
    caps = Caps({"push": 1}, {}, None)
    # A push already scheduled 10 h later shares a rolling day with NOW.
    assert reason(judge(proposal(), history=[sent(NOW + 10 * H)], caps=caps)) == "cap_day"
    # Exactly 24 h later it does not.
    assert isinstance(judge(proposal(), history=[sent(NOW + 24 * H)], caps=caps), Allowed)


def test_cap_looks_at_every_window_containing_at_not_a_double_width_one() -> None:
    caps = Caps({"push": 2}, {}, None)
    # 20 h before and 20 h after are 40 h apart: no rolling day holds both and NOW... allowed.
    spread = [sent(NOW - 20 * H), sent(NOW + 20 * H)]
    assert judge(proposal(), history=spread, caps=caps) == Allowed("2nd push in 24 h of 2 allowed")
    # ...but 10 h before and 10 h after fit in one day with NOW: three in a day.
    close = [sent(NOW - 10 * H), sent(NOW + 10 * H)]
    assert reason(judge(proposal(), history=close, caps=caps)) == "cap_day"


def test_busiest_window_examples() -> None:
    day = timedelta(days=1)
    assert busiest([], NOW, day) == 0
    assert busiest([NOW], NOW, day) == 1
    assert busiest([NOW - 30 * H, NOW + 30 * H], NOW, day) == 0
    # Three upcoming messages within 24 h of each other, all after NOW.
    assert busiest([NOW + H, NOW + 2 * H, NOW + 23 * H], NOW, day) == 3
    # Same, but the last is 24 h after NOW: it cannot share a window with NOW.
    assert busiest([NOW + H, NOW + 2 * H, NOW + 24 * H], NOW, day) == 2


def test_allowed_note_names_the_tightest_cap() -> None:
    caps = Caps({"push": 4}, {"push": 5}, 10)
    history = [sent(NOW - 3 * 24 * H), sent(NOW - 2 * 24 * H), sent(NOW - H)]
    # day: 2nd of 4 (2 left after), week: 4th of 5 (1 left), global: 2nd of 10.
    assert judge(proposal(), history=history, caps=caps) == Allowed(
        "4th push this week of 5 allowed"
    )
    assert judge(proposal(), caps=Caps({}, {}, 3)) == Allowed(
        "1st message in 24 h (all channels) of 3 allowed"
    )


# --- order of checks -----------------------------------------------------------


def test_first_failure_wins_in_the_documented_order() -> None:
    at = datetime(2026, 6, 1, 23, 0, tzinfo=UTC)
    p = proposal("d-1", cooldown=48 * H)
    night = QuietHours(22, 8)
    zero = Caps({"push": 0}, {"push": 0}, 0)
    own = [sent(at - H, campaign="cart", did="d-1")]
    other = [sent(at - H, campaign="cart", did="d-0")]
    goal = p.trigger_at
    complained = at + H  # the end of the marketing cool-down after a complaint
    # Everything is wrong; fixing the reported rule reveals the next one.
    verdicts = [
        judge(p, at=p.expires_at + H, consent={}, history=own, caps=zero, quiet=night),
        judge(p, at=at, consent={}, history=own, caps=zero, quiet=night, goal_at=goal),
        judge(
            p, at=at, history=own, caps=zero, quiet=night, goal_at=goal, recovering_until=complained
        ),
        judge(p, at=at, history=own, caps=zero, quiet=night, recovering_until=complained),
        judge(p, at=at, history=own, caps=zero, quiet=night),
        judge(p, at=at, history=other, caps=zero, quiet=night),
        judge(p, at=at, history=other, caps=zero),
        judge(replace(p, cooldown=timedelta(0)), at=at, history=other, caps=zero),
    ]
    assert [reason(v) for v in verdicts] == list(REASONS[: REASONS.index("cap_day") + 1])


def test_caps_are_checked_day_then_week_then_global() -> None:
    history = [sent(NOW - H, channel="email")]
    assert reason(judge(proposal(), caps=Caps({"push": 0}, {"push": 0}, 0))) == "cap_day"
    assert reason(judge(proposal(), caps=Caps({"push": 1}, {"push": 0}, 0))) == "cap_week"
    assert reason(judge(proposal(), history=history, caps=Caps({}, {}, 1))) == "global_cap"


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        judge(proposal(), at=datetime(2026, 6, 1, 12, 0))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(proposal(), send_at=datetime(2026, 6, 1, 12, 0))  # noqa: DTZ001


def test_invalid_caps_and_proposals_are_refused() -> None:
    with pytest.raises(ValueError, match="caps"):
        Caps({"push": -1}, {}, None)
    with pytest.raises(ValueError, match="cooldown"):
        proposal(cooldown=-H)
    with pytest.raises(ValueError, match="expected_value"):
        proposal(value=float("nan"))


# --- arbitration -----------------------------------------------------------------


def run(
    proposals: Sequence[Proposal],
    *,
    history: Sequence[Sent] = (),
    caps: Caps = NO_CAPS,
    goal_at: Mapping[str, datetime | None] | None = None,
    at: datetime | None = None,
) -> tuple[list[str], list[tuple[str, str]]]:
    accepted, suppressed = arbitrate(
        proposals,
        history=history,
        caps=caps,
        consent=PUSH_OK,
        quiet=None,
        timezone=None,
        goal_at=goal_at or {},
        at=at,
    )
    return [p.decision_id for p in accepted], [(p.decision_id, s.reason) for p, s in suppressed]


def test_arbitrate_priority_wins_the_global_cap() -> None:
    proposals = [
        proposal("low", campaign="promo", priority=1, value=100.0),
        proposal("high", campaign="cart", priority=5, value=0.1),
    ]
    assert run(proposals, caps=Caps({}, {}, 1)) == (["high"], [("low", "global_cap")])


def test_arbitrate_expected_value_breaks_priority_ties_then_decision_id() -> None:
    proposals = [
        proposal("a", campaign="x", value=1.0),
        proposal("b", campaign="y", value=3.0),
        proposal("c", campaign="z", value=3.0),
    ]
    caps = Caps({}, {}, 2)
    assert run(proposals, caps=caps) == (["b", "c"], [("a", "global_cap")])
    assert run(list(reversed(proposals)), caps=caps) == (["b", "c"], [("a", "global_cap")])


def test_arbitrate_applies_caps_across_accepted_proposals_and_history() -> None:
    proposals = [
        proposal("p1", campaign="a", priority=3),
        proposal("p2", campaign="b", priority=2, channel="email"),
        proposal("p3", campaign="c", priority=1),
    ]
    caps = Caps({"push": 2}, {}, None)
    history = [sent(NOW - H)]
    assert run(proposals, history=history, caps=caps) == (["p1", "p2"], [("p3", "cap_day")])
    assert run(proposals, caps=caps) == (["p1", "p2", "p3"], [])


def test_arbitrate_uses_each_send_at_by_default_and_at_when_given() -> None:
    proposals = [
        proposal("first", campaign="a", priority=2, send_at=NOW),
        replace(
            proposal("later", campaign="b", priority=1, send_at=NOW + 30 * H),
            expires_at=NOW + 48 * H,
        ),
    ]
    caps = Caps({"push": 1}, {}, None)
    # 30 h apart: no rolling day holds both.
    assert run(proposals, caps=caps) == (["first", "later"], [])
    # Both due now: the cap bites.
    assert run(proposals, caps=caps, at=NOW) == (["first"], [("later", "cap_day")])


def test_arbitrate_cooldown_and_duplicates_across_proposals() -> None:
    proposals = [
        proposal("x1", campaign="cart", priority=2, cooldown=24 * H),
        proposal("x2", campaign="cart", priority=1, cooldown=24 * H, send_at=NOW + H),
        proposal("x1", campaign="other", priority=0),
    ]
    assert run(proposals) == (["x1"], [("x2", "cooldown"), ("x1", "duplicate")])


def test_arbitrate_goal_per_campaign() -> None:
    proposals = [proposal("a", campaign="cart"), proposal("b", campaign="promo")]
    accepted, suppressed = run(proposals, goal_at={"cart": NOW - H, "promo": None})
    assert accepted == ["b"]
    assert suppressed == [("a", "goal_reached")]


def test_arbitrate_refuses_several_customers() -> None:
    other = replace(proposal("b"), customer_id="c-2")
    with pytest.raises(ValueError, match="one customer"):
        run([proposal("a"), other])


def test_arbitrate_nothing_to_do() -> None:
    assert run([]) == ([], [])
