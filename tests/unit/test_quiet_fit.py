"""Quiet hours that fit the customer: the store's window, opened at its edges where the
customer's own activity is consistent, never on sms, never in legal hours; planning,
arbitration and the send-time check judge by the same hours, and the decision says why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from stream_app.clock import to_ms
from stream_app.decisions.campaigns import Campaign, CampaignBook, Urgency, WinBack
from stream_app.decisions.planner import Offer, Plan, Rules, customer_quiet, plan
from stream_app.decisions.policies import Allowed, Caps, Suppressed
from stream_app.decisions.quiet import QuietFit, QuietHours, fit, opened_note
from stream_app.decisions.triggers import Hit
from stream_app.profiles.derive import ProfileView, ValueRules, derive
from stream_app.profiles.state import Decayed, ProfileState
from stream_app.settings import Settings
from stream_app.storage.decisions import PendingDecision
from stream_app.streaming.checks import recheck
from stream_app.streaming.decider import Audience, Decided, Decider

NIGHT = QuietHours(22, 8)
H = timedelta(hours=1)
#: Monday 2026-06-01 22:10 UTC: the customer lives in UTC, so this is 22:10 local.
LATE = datetime(2026, 6, 1, 22, 10, tzinfo=UTC)
RULES = Rules(
    caps=Caps(per_day={}, per_week={}, global_per_day=None),
    quiet_hours=NIGHT,
    timing_prior=(1.0,) * 24,
    timing_prior_strength=1.0,
)
CAMPAIGN = Campaign(
    id="winback",
    trigger=WinBack(),
    channels=("push",),
    urgency=Urgency(latest=24 * H),
    holdout=0.0,
    send_time="earliest",
    goal="visit",
    goal_window=6 * H,
)


def week(hours: Mapping[int, float], days: range = range(7)) -> list[float]:
    """A 168 hour-of-week vector: ``hours`` (hour of day -> events) on each of ``days``."""
    vector = [0.0] * 168
    for day in days:
        for hour, events in hours.items():
            vector[day * 24 + hour] = events
    return vector


DAYTIME = {hour: 1.0 for hour in range(9, 21)}
NIGHT_OWL = week(DAYTIME | {22: 3.0, 23: 2.0, 1: 0.2})
MORNING_PERSON = week(DAYTIME | {7: 2.0, 6: 0.3})


def view_of(rhythm: list[float], consent: tuple[str, ...] = ("push", "sms")) -> ProfileView:
    """Customer c-1 in UTC at ``LATE`` with the local weekly ``rhythm``."""
    stored = {"n": "50", "first_seen": str(to_ms(LATE) - 400 * 86_400_000), "timezone": "UTC"}
    stored |= {f"consent:{channel}": "1" for channel in consent}
    buckets = {str(hour): events for hour, events in enumerate(rhythm) if events}
    state = ProfileState("c-1", stored, rhythm=Decayed(to_ms(LATE), buckets))
    return derive(state, LATE, ValueRules())


# fitting


def test_a_night_owl_gets_22_and_23_opened() -> None:
    assert fit(NIGHT, NIGHT_OWL, QuietFit()).opened == {22, 23}  # 01:00 too thin: stops


def test_a_morning_person_gets_07_opened() -> None:
    assert fit(NIGHT, MORNING_PERSON, QuietFit()).opened == {7}  # 06:00 below average


def test_a_stray_night_event_opens_nothing() -> None:
    stray = week(DAYTIME)
    stray[3] = 5.0  # one Monday 03:00 burst
    assert fit(NIGHT, stray, QuietFit()).opened == frozenset()
    every_night = week(DAYTIME | {3: 5.0})  # consistent, but not at the window's edge
    assert fit(NIGHT, every_night, QuietFit()).opened == frozenset()


def test_an_hour_on_too_few_weekdays_stays_quiet() -> None:
    two_days = week(DAYTIME)
    for day in (0, 1):
        two_days[day * 24 + 22] = 5.0
    assert fit(NIGHT, two_days, QuietFit()).opened == frozenset()
    assert fit(NIGHT, two_days, QuietFit(min_days=2)).opened == {22}


def test_opened_hours_are_not_quiet_and_sends_move_to_the_first_open_hour() -> None:
    mine = QuietHours(22, 8, opened=frozenset({7}))
    three = datetime(2026, 6, 2, 3, 30, tzinfo=UTC)
    assert mine.next_allowed(three) == datetime(2026, 6, 2, 7, tzinfo=UTC)
    assert NIGHT.next_allowed(three) == datetime(2026, 6, 2, 8, tzinfo=UTC)
    assert hash(mine) != hash(NIGHT)  # timing caches candidates by it


# channels and legal hours


def test_sms_never_opens() -> None:
    view = view_of(NIGHT_OWL)
    assert customer_quiet(RULES, view, "push") == QuietHours(22, 8, frozenset({22, 23}))
    assert customer_quiet(RULES, view, "sms") == NIGHT
    assert "sms" not in Settings().decisions.rules().quiet_fit.channels


def test_legal_hours_never_open() -> None:
    legal = QuietHours(23, 6)
    rules = Rules(RULES.caps, NIGHT, (1.0,) * 24, 1.0, legal_quiet_hours=legal)
    quiet = customer_quiet(rules, view_of(NIGHT_OWL), "push")
    assert quiet is not None
    assert quiet.opened == {22}
    assert quiet.contains(LATE + H)
    only_legal = Rules(RULES.caps, None, (1.0,) * 24, 1.0, legal_quiet_hours=legal)
    assert customer_quiet(only_legal, view_of(NIGHT_OWL), "push") == legal


def test_settings_build_the_rules() -> None:
    rules = Settings(
        decisions={"legal_quiet_hours": (0, 6), "quiet_fit_channels": ("email",)}
    ).decisions.rules()
    assert rules.legal_quiet_hours == QuietHours(0, 6)
    assert rules.quiet_fit == QuietFit(channels=("email",))


# the three places agree


def hit_at(at: datetime) -> Hit:
    return Hit("win_back", "c-1", f"winback:{to_ms(at)}", at, "no order for 20 days")


def decide(view: ProfileView, channel: str, rules: Rules = RULES) -> Plan | Suppressed:
    camp = Campaign.model_validate(CAMPAIGN.model_dump() | {"channels": (channel,)})
    return plan(hit_at(LATE), camp, view, [], rules, offer=Offer(None))


def arbitrated(p: Plan, view: ProfileView, rules: Rules = RULES) -> list[PendingDecision]:
    decider = Decider(book=CampaignBook([CAMPAIGN]), rules=rules, learner=None)
    audience = Audience(view, [], set(), (1.0,) * 24, rules.presence)
    return decider._arbitrate({"c-1": [p]}, {"c-1": audience}, Decided())


def test_plan_arbitrate_and_recheck_agree_on_an_opened_hour() -> None:
    view = view_of(NIGHT_OWL)
    p = decide(view, "push")
    assert isinstance(p, Plan)
    assert p.decision.send_at == LATE  # now, at 22:10: opened for this customer
    [pending] = arbitrated(p, view)
    assert isinstance(recheck(pending, view, [], RULES, LATE), Allowed)
    assert p.decision.explanation is not None
    assert (
        "outside store quiet hours 22:00-08:00: usually active 22:00-00:00 local"
        in p.decision.explanation
    )


@pytest.mark.parametrize("channel", ["sms", "push"])
def test_plan_arbitrate_and_recheck_agree_on_a_quiet_hour(channel: str) -> None:
    view = view_of(NIGHT_OWL if channel == "sms" else week(DAYTIME))
    p = decide(view, channel)
    assert isinstance(p, Plan)
    assert p.decision.send_at == datetime(2026, 6, 2, 8, tzinfo=UTC)  # the store's end
    assert "outside store quiet hours" not in (p.decision.explanation or "")
    early = PendingDecision(p.decision, "t", "visit", 6 * H, LATE, timedelta(0))
    verdict = recheck(early, view, [], RULES, LATE)
    assert isinstance(verdict, Suppressed)
    assert verdict.reason == "quiet_hours"
    at_once = replace(p, proposal=replace(p.proposal, send_at=LATE))
    assert arbitrated(at_once, view) == []


def test_the_legal_hour_is_judged_alike_everywhere() -> None:
    rules = Rules(RULES.caps, NIGHT, (1.0,) * 24, 1.0, legal_quiet_hours=QuietHours(22, 23))
    view = view_of(NIGHT_OWL)
    p = decide(view, "push", rules)
    assert isinstance(p, Plan)
    # The legal hour at the window's edge stops the walk inward: 23:00 stays quiet too.
    assert p.decision.send_at == datetime(2026, 6, 2, 8, tzinfo=UTC)
    early = PendingDecision(p.decision, "t", "visit", 6 * H, LATE, timedelta(0))
    verdict = recheck(early, view, [], rules, LATE)
    assert verdict == Suppressed(
        "quiet_hours", "22:10 in UTC is within legal quiet hours 22:00-23:00"
    )


def test_the_note_is_only_for_opened_hours() -> None:
    assert opened_note(None, 23) is None
    assert opened_note(NIGHT, 23) is None
