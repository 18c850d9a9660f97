from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.decisions.quiet import QuietHours
from stream_app.decisions.timing import (
    HOURS_PER_DAY,
    SendPlan,
    active_window,
    daily_profile,
    describe_plan,
    plan_send,
    smoothed_shares,
)

NIGHT = QuietHours(22, 8)
BERLIN = "Europe/Berlin"
KOLKATA = "Asia/Kolkata"


def peaks(*hours: int, base: float = 0.1, top: float = 1.0) -> list[float]:
    """Hourly shares with ``top`` at ``hours`` and ``base`` elsewhere (need not sum to 1)."""
    return [top if h in hours else base for h in range(HOURS_PER_DAY)]


def local(plan: SendPlan | None, zone: str) -> str:
    assert plan is not None
    return plan.send_at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %z")


# daily_profile / smoothed_shares


def test_daily_profile_sums_each_hour_over_the_seven_weekdays() -> None:
    week = [0.0] * 168
    for day in range(7):
        week[day * 24 + 20] = day + 1.0  # 1 + 2 + ... + 7 at 20:00
    week[23] = 0.5  # Monday 23:00
    week[167] = 0.25  # Sunday 23:00
    day_totals = daily_profile(week)
    assert len(day_totals) == 24
    assert day_totals[20] == 28.0
    assert day_totals[23] == 0.75
    assert sum(day_totals) == pytest.approx(28.75)


def test_daily_profile_needs_a_whole_week() -> None:
    with pytest.raises(ValueError, match="168"):
        daily_profile([1.0] * 24)


def test_no_history_gives_exactly_the_prior_shares() -> None:
    prior = [float(h) for h in range(24)]
    total = sum(prior)
    assert smoothed_shares([0.0] * 24, prior, strength=30) == pytest.approx(
        [p / total for p in prior]
    )


def test_a_long_history_outweighs_the_prior_and_shares_sum_to_one() -> None:
    own = [0.0] * 24
    own[9] = 1000.0
    prior = peaks(20)
    shares = smoothed_shares(own, prior, strength=30)
    assert sum(shares) == pytest.approx(1.0)
    assert max(range(24), key=lambda h: shares[h]) == 9
    assert shares[9] > 0.95
    # A thin history of the same shape stays close to the prior's peak.
    own[9] = 3.0
    thin = smoothed_shares(own, prior, strength=30)
    assert max(range(24), key=lambda h: thin[h]) == 20


def test_smoothing_follows_the_formula_for_a_week_vector_too() -> None:
    own = [0.0] * 168
    own[5] = 2.0
    prior = [1.0] * 168
    shares = smoothed_shares(own, prior, strength=6)
    assert shares[5] == pytest.approx((2 + 6 / 168) / 8)
    assert shares[6] == pytest.approx((6 / 168) / 8)


def test_an_all_zero_prior_means_uniform() -> None:
    assert smoothed_shares([0.0] * 4, [0.0] * 4, strength=2) == (0.25, 0.25, 0.25, 0.25)
    assert smoothed_shares([0.0] * 4, [0.0] * 4, strength=0) == (0.25, 0.25, 0.25, 0.25)


@pytest.mark.parametrize(
    ("own", "prior", "strength"),
    [([1.0] * 24, [1.0] * 23, 1.0), ([1.0] * 24, [1.0] * 24, -1.0), ([-1.0], [1.0], 1.0)],
)
def test_smoothing_rejects_bad_input(own: list[float], prior: list[float], strength: float) -> None:
    with pytest.raises(ValueError, match=r"length|>= 0"):
        smoothed_shares(own, prior, strength)


# plan_send


def test_defers_to_the_customers_peak_hour_in_their_zone() -> None:
    trigger = datetime(2026, 6, 1, 12, 5, 30, tzinfo=UTC)  # 14:05:30 in Berlin (CEST)
    plan = plan_send(
        earliest=trigger,
        latest=trigger + timedelta(hours=24),
        timezone=BERLIN,
        hourly=peaks(19),
        quiet=NIGHT,
    )
    assert plan == SendPlan(
        send_at=datetime(2026, 6, 1, 17, 0, tzinfo=UTC),
        expected=1.0,
        expected_at_earliest=0.1,
        local_hour=19,
        deferred=True,
        earliest_at=trigger,
        earliest_hour=14,
    )


def test_same_local_hour_is_another_utc_hour_in_another_zone() -> None:
    trigger = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
    hourly = peaks(19)
    sends = {
        zone: plan_send(
            earliest=trigger, latest=trigger + timedelta(hours=24), timezone=zone, hourly=hourly
        )
        for zone in ("America/New_York", "Asia/Tokyo", BERLIN)
    }
    assert {zone: p.send_at.hour for zone, p in sends.items() if p} == {
        "America/New_York": 23,  # 19:00 EDT (-4)
        "Asia/Tokyo": 10,  # 19:00 JST (+9)
        BERLIN: 17,  # 19:00 CEST (+2)
    }


def test_half_hour_offset_sends_at_the_local_hour_start() -> None:
    trigger = datetime(2026, 6, 1, 6, 5, tzinfo=UTC)  # 11:35 in Kolkata (+05:30)
    plan = plan_send(
        earliest=trigger, latest=trigger + timedelta(hours=24), timezone=KOLKATA, hourly=peaks(19)
    )
    assert plan is not None
    assert plan.send_at == datetime(2026, 6, 1, 13, 30, tzinfo=UTC)
    assert (plan.local_hour, plan.local_minute) == (19, 0)


def test_half_hour_offset_earliest_keeps_its_local_minute() -> None:
    trigger = datetime(2026, 6, 1, 6, 5, tzinfo=UTC)  # 11:35 in Kolkata
    plan = plan_send(
        earliest=trigger, latest=trigger + timedelta(hours=24), timezone=KOLKATA, hourly=peaks(11)
    )
    assert plan is not None
    assert plan.send_at == trigger
    assert (plan.local_hour, plan.local_minute, plan.deferred) == (11, 35, False)
    assert plan.expected == plan.expected_at_earliest == 1.0


def test_dst_spring_forward_in_berlin_moves_the_utc_hour() -> None:
    # Clocks go from 02:00 CET to 03:00 CEST on 2026-03-29 (01:00 UTC).
    trigger = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # 13:00 CET, Saturday
    plan = plan_send(
        earliest=trigger,
        latest=trigger + timedelta(hours=24),
        timezone=BERLIN,
        hourly=peaks(10, 11),
        quiet=NIGHT,
    )
    assert local(plan, BERLIN) == "2026-03-29 10:00 +0200"
    assert plan is not None
    assert plan.send_at == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)  # not 09:00 as the day before


def test_dst_gap_hour_is_never_a_candidate_and_the_next_hour_is() -> None:
    trigger = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 00:30 CET on the 29th
    hourly = peaks(3)
    hourly[2] = 5.0  # 02:00 does not exist that night
    plan = plan_send(
        earliest=trigger, latest=trigger + timedelta(hours=3), timezone=BERLIN, hourly=hourly
    )
    assert local(plan, BERLIN) == "2026-03-29 03:00 +0200"
    assert plan is not None
    assert plan.send_at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_dst_fall_back_repeated_hour_goes_to_its_first_occurrence() -> None:
    # 02:00-03:00 happens twice on 2026-10-25 in Berlin (CEST, then CET).
    trigger = datetime(2026, 10, 24, 22, 30, tzinfo=UTC)  # 00:30 CEST
    plan = plan_send(
        earliest=trigger, latest=trigger + timedelta(hours=6), timezone=BERLIN, hourly=peaks(2)
    )
    assert local(plan, BERLIN) == "2026-10-25 02:00 +0200"


def test_window_wrapping_midnight_sends_after_midnight_local() -> None:
    # 22:30 in Los Angeles (PDT, -7) is already the next day in UTC.
    trigger = datetime(2026, 6, 2, 5, 30, tzinfo=UTC)
    plan = plan_send(
        earliest=trigger,
        latest=trigger + timedelta(hours=12),
        timezone="America/Los_Angeles",
        hourly=peaks(1),
    )
    assert local(plan, "America/Los_Angeles") == "2026-06-02 01:00 -0700"
    assert plan is not None
    assert plan.deferred


def test_quiet_hours_push_the_earliest_send_to_their_end() -> None:
    trigger = datetime(2026, 6, 1, 21, 10, tzinfo=UTC)  # 23:10 in Berlin
    plan = plan_send(
        earliest=trigger,
        latest=trigger + timedelta(hours=24),
        timezone=BERLIN,
        hourly=[1.0] * 24,
        quiet=NIGHT,
    )
    assert local(plan, BERLIN) == "2026-06-02 08:00 +0200"
    assert plan is not None
    assert not plan.deferred  # 08:00 is the earliest allowed moment, not a choice


def test_night_owl_never_gets_a_send_inside_quiet_hours() -> None:
    night_owl = peaks(23, 0, 1, top=1.0, base=0.01)
    night_owl[21] = 0.3
    trigger = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # 10:00 in Berlin
    plan = plan_send(
        earliest=trigger,
        latest=trigger + timedelta(hours=48),
        timezone=BERLIN,
        hourly=night_owl,
        quiet=NIGHT,
    )
    assert local(plan, BERLIN) == "2026-06-01 21:00 +0200"


def test_quiet_hours_filling_the_window_give_no_plan() -> None:
    trigger = datetime(2026, 6, 1, 21, 0, tzinfo=UTC)  # 23:00 in Berlin

    def until(latest: datetime) -> SendPlan | None:
        return plan_send(
            earliest=trigger, latest=latest, timezone=BERLIN, hourly=[1.0] * 24, quiet=NIGHT
        )

    assert until(datetime(2026, 6, 2, 5, 59, tzinfo=UTC)) is None  # 07:59 Berlin
    assert local(until(datetime(2026, 6, 2, 6, 0, tzinfo=UTC)), BERLIN) == "2026-06-02 08:00 +0200"


def test_a_window_ending_before_it_starts_gives_no_plan() -> None:
    trigger = datetime(2026, 6, 1, 12, 0, 1, tzinfo=UTC)
    later = trigger - timedelta(seconds=1)
    assert plan_send(earliest=trigger, latest=later, timezone=None, hourly=[1.0] * 24) is None


def test_latest_is_inclusive_for_an_hour_start() -> None:
    trigger = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
    plan = plan_send(
        earliest=trigger,
        latest=datetime(2026, 6, 1, 15, 0, tzinfo=UTC),
        timezone="UTC",
        hourly=peaks(15),
    )
    assert plan is not None
    assert plan.send_at == datetime(2026, 6, 1, 15, 0, tzinfo=UTC)


def test_ties_go_to_the_earliest_time() -> None:
    trigger = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)  # 08:00 in Berlin
    flat = plan_send(
        earliest=trigger, latest=trigger + timedelta(hours=24), timezone=BERLIN, hourly=[0.5] * 24
    )
    assert flat is not None
    assert flat.send_at == trigger
    assert not flat.deferred
    two_peaks = plan_send(
        earliest=trigger,
        latest=trigger + timedelta(hours=48),
        timezone=BERLIN,
        hourly=peaks(20, 11),
    )
    assert local(two_peaks, BERLIN) == "2026-06-01 11:00 +0200"


def test_sending_now_waits_for_nothing_and_deferred_sends_start_an_hour() -> None:
    trigger = datetime(2026, 6, 1, 12, 5, 0, 1, tzinfo=UTC)
    now = plan_send(
        earliest=trigger, latest=trigger + timedelta(hours=1), timezone=None, hourly=[1.0] * 24
    )
    assert now is not None
    assert now.send_at == trigger
    assert now.send_at.tzinfo is UTC
    later = plan_send(
        earliest=trigger, latest=trigger + timedelta(hours=3), timezone=None, hourly=peaks(14)
    )
    assert later is not None
    assert later.send_at == datetime(2026, 6, 1, 14, 0, tzinfo=UTC)


def test_score_at_can_change_the_choice() -> None:
    trigger = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    hourly = peaks(19)
    hourly[12] = 0.8

    def plan(score_at: Callable[[Sequence[datetime]], list[float]] | None) -> SendPlan:
        result = plan_send(
            earliest=trigger,
            latest=trigger + timedelta(hours=24),
            timezone="UTC",
            hourly=hourly,
            score_at=score_at,
        )
        assert result is not None
        return result

    def evening_fatigue(moments: Sequence[datetime]) -> list[float]:
        return [0.5 if moment.hour >= 18 else 1.0 for moment in moments]

    assert plan(None).send_at == datetime(2026, 6, 1, 19, 0, tzinfo=UTC)
    tired = plan(evening_fatigue)
    assert tired.send_at == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert tired.expected == pytest.approx(0.8)
    assert tired.expected_at_earliest == pytest.approx(0.1)


def test_lord_howe_half_hour_dst_hour_starts_at_half_past() -> None:
    # On 2026-10-04 Lord Howe goes from 02:00 (+10:30) to 02:30 (+11): hour 2 lasts 30 min.
    trigger = datetime(2026, 10, 3, 14, 40, tzinfo=UTC)  # 01:10 local
    plan = plan_send(
        earliest=trigger,
        latest=trigger + timedelta(hours=3),
        timezone="Australia/Lord_Howe",
        hourly=peaks(2),
    )
    assert local(plan, "Australia/Lord_Howe") == "2026-10-04 02:30 +1100"


def test_unknown_or_missing_timezone_counts_as_utc() -> None:
    trigger = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    for zone in (None, "", "Mars/Olympus_Mons", "../etc/passwd"):
        plan = plan_send(
            earliest=trigger, latest=trigger + timedelta(hours=24), timezone=zone, hourly=peaks(19)
        )
        assert plan is not None
        assert plan.send_at == datetime(2026, 6, 1, 19, 0, tzinfo=UTC)


def test_naive_times_and_bad_shares_are_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        plan_send(
            earliest=datetime(2026, 6, 1),  # noqa: DTZ001 - on purpose
            latest=datetime(2026, 6, 2, tzinfo=UTC),
            timezone=None,
            hourly=[1.0] * 24,
        )
    with pytest.raises(ValueError, match="24"):
        plan_send(
            earliest=datetime(2026, 6, 1, tzinfo=UTC),
            latest=datetime(2026, 6, 2, tzinfo=UTC),
            timezone=None,
            hourly=[1.0] * 168,
        )


ZONES = st.sampled_from(
    ["UTC", BERLIN, KOLKATA, "America/Los_Angeles", "Asia/Kathmandu", "Australia/Lord_Howe"]
)


@settings(max_examples=80, deadline=None)
@given(
    zone=ZONES,
    start_min=st.integers(0, 365 * 24 * 60),
    seconds=st.integers(0, 59),
    length_min=st.integers(0, 30 * 60),
    hourly=st.lists(st.sampled_from([0.0, 0.1, 0.5, 1.0]), min_size=24, max_size=24),
    quiet=st.sampled_from([None, NIGHT, QuietHours(1, 6), QuietHours(9, 9)]),
)
def test_plan_is_the_best_allowed_minute_of_the_window(
    zone: str,
    start_min: int,
    seconds: int,
    length_min: int,
    hourly: list[float],
    quiet: QuietHours | None,
) -> None:
    earliest = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=start_min, seconds=seconds)
    latest = earliest + timedelta(minutes=length_min)
    plan = plan_send(earliest=earliest, latest=latest, timezone=zone, hourly=hourly, quiet=quiet)
    # Brute force: the window's start, then every whole minute of it, if not quiet.
    tz = ZoneInfo(zone)
    first = earliest.replace(second=0) + timedelta(minutes=1 if seconds else 0)
    allowed = []
    if quiet is None or not quiet.contains(earliest.astimezone(tz)):
        allowed.append((hourly[earliest.astimezone(tz).hour], earliest))
    moment = first
    while moment <= latest:
        wall = moment.astimezone(tz)
        if quiet is None or not quiet.contains(wall):
            allowed.append((hourly[wall.hour], moment))
        moment += timedelta(minutes=1)
    if not allowed:
        assert plan is None
        return
    assert plan is not None
    best = max(value for value, _ in allowed)
    assert plan.expected == best
    assert plan.send_at == min(moment for value, moment in allowed if value == best)
    assert plan.expected_at_earliest == allowed[0][0]
    assert plan.deferred == (plan.send_at > allowed[0][1])
    wall = plan.send_at.astimezone(tz)
    assert (plan.local_hour, plan.local_minute) == (wall.hour, wall.minute)


# active_window / describe_plan


@pytest.mark.parametrize(
    ("hourly", "window"),
    [
        (peaks(19, 20, 21, base=0.0), (19, 22)),
        (peaks(12, 13, 19, 20, 21, base=0.05), (12, 14)),  # equal runs: the earlier peak's
        ([0.8 if h in (12, 13) else 0.05 for h in range(20)] + [1.0] * 3 + [0.05], (20, 23)),
        (peaks(22, 23, 0, 1, base=0.1), (22, 2)),  # over midnight
        (peaks(23, base=0.0), (23, 0)),  # ends at midnight
        ([0.4, 0.3, 0.199] + [0.0] * 21, (0, 2)),  # 0.199 < half of 0.4
        ([0.4, 0.3, 0.2] + [0.0] * 21, (0, 3)),  # half the peak is enough
        ([0.5] * 24, (0, 24)),
        ([0.0] * 24, None),
    ],
)
def test_active_window(hourly: list[float], window: tuple[int, int] | None) -> None:
    assert active_window(hourly) == window


def test_describe_a_deferred_plan_with_its_wait_and_local_time() -> None:
    trigger = datetime(2026, 6, 1, 9, 40, tzinfo=UTC)  # 15:10 in Kolkata
    hourly = peaks(19, 20, 21)
    plan = plan_send(
        earliest=trigger, latest=trigger + timedelta(hours=24), timezone=KOLKATA, hourly=hourly
    )
    assert plan is not None
    assert describe_plan(plan, hourly, trigger) == (
        "usually active 19:00-22:00 local; sending in 3 h 50 min at 19:00"
    )


def test_describe_a_send_now() -> None:
    trigger = datetime(2026, 6, 1, 17, 20, 30, tzinfo=UTC)  # 19:20:30 in Berlin
    hourly = peaks(19, 20, 21)
    plan = plan_send(
        earliest=trigger, latest=trigger + timedelta(hours=24), timezone=BERLIN, hourly=hourly
    )
    assert plan is not None
    assert plan.send_at == trigger
    assert describe_plan(plan, hourly, trigger) == "usually active 19:00-22:00 local; sending now"


def test_describe_uses_the_local_minute_in_a_half_hour_zone() -> None:
    now = datetime(2026, 6, 1, 6, 5, tzinfo=UTC)  # 11:35 in Kolkata
    hourly = peaks(11, 12)
    plan = plan_send(
        earliest=now + timedelta(minutes=30),  # a delayed check: not before 12:05 local
        latest=now + timedelta(hours=24),
        timezone=KOLKATA,
        hourly=hourly,
        quiet=NIGHT,
    )
    assert plan is not None
    assert not plan.deferred
    assert describe_plan(plan, hourly, now) == (
        "usually active 11:00-13:00 local; sending in 30 min at 12:05"
    )
