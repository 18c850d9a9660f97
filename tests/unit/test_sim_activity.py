"""The realistic activity mode draws what real shop logs show (issue 17), deterministically."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from stream_app.simulation.activity import (
    ActiveSession,
    active_within,
    draw_activity,
    draw_sessions,
    draw_truth,
)
from stream_app.simulation.population import make_population

SEED = 11
POPULATION = make_population(800, seed=SEED)
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
END = START + timedelta(days=14)
TRUTH = draw_truth(POPULATION, SEED, START, END)
ACTIVITY = {c.customer_id: draw_activity(c, SEED) for c in POPULATION}


def _sessions() -> list[tuple[str, ActiveSession]]:
    return [(cid, s) for cid, sessions in TRUTH.items() for s in sessions]


def _gaps_h() -> list[float]:
    return sorted(
        (b.start - a.end) / timedelta(hours=1)
        for sessions in TRUTH.values()
        for a, b in pairwise(sessions)
    )


def test_deterministic_per_seed_and_sensitive_to_it() -> None:
    assert draw_truth(POPULATION[:50], SEED, START, END) == {
        c.customer_id: TRUTH[c.customer_id] for c in POPULATION[:50]
    }
    assert draw_truth(POPULATION[:50], SEED + 1, START, END) != {
        c.customer_id: TRUTH[c.customer_id] for c in POPULATION[:50]
    }


def test_sessions_are_aware_ordered_inside_the_window_and_never_overlap() -> None:
    for sessions in TRUTH.values():
        for session in sessions:
            assert all(t.tzinfo is not None for t in session.events)
            assert list(session.events) == sorted(session.events)
            assert START <= session.start < END
        for a, b in pairwise(sessions):
            assert a.end < b.start


def test_naive_instants_are_refused() -> None:
    activity = ACTIVITY[POPULATION[0].customer_id]
    with pytest.raises(ValueError, match="aware"):
        draw_sessions(activity, START.replace(tzinfo=None), END, SEED)
    with pytest.raises(ValueError, match="aware"):
        active_within((), START.replace(tzinfo=None))


def test_many_customers_have_only_a_few_sessions_and_a_few_have_many() -> None:
    counts = sorted(len(s) for s in TRUTH.values())
    few = sum(c <= 3 for c in counts) / len(counts)
    assert 0.25 < few < 0.75  # in two weeks: occasional customers
    top_decile = sum(counts[int(0.9 * len(counts)) :]) / sum(counts)
    assert top_decile > 0.35  # a heavy tail of heavy users holds much of the activity


def test_gaps_are_bursty_and_heavy_tailed() -> None:
    gaps = _gaps_h()
    median, p99 = gaps[len(gaps) // 2], gaps[int(0.99 * len(gaps))]
    assert sum(g < 1 for g in gaps) / len(gaps) > 0.3  # a return within the hour is common
    assert p99 / median > 50  # and a long tail of days away
    assert p99 > 48


def test_sessions_are_bursts_of_events() -> None:
    sizes = sorted(len(s.events) for _, s in _sessions())
    assert sizes[0] >= 1
    assert 3 <= sizes[len(sizes) // 2] <= 6
    assert sizes[int(0.95 * len(sizes))] >= 10
    minutes = sorted((s.end - s.start) / timedelta(minutes=1) for _, s in _sessions())
    assert 1 < minutes[len(minutes) // 2] < 10


def test_weekend_days_differ_from_weekdays() -> None:
    weekend = weekday = 0
    for cid, session in _sessions():
        local = session.start.astimezone(ZoneInfo(ACTIVITY[cid].timezone))
        if local.weekday() >= 5:
            weekend += 1
        else:
            weekday += 1
    per_weekend_day, per_weekday = weekend / 4, weekday / 10
    assert per_weekend_day > 1.15 * per_weekday


def test_night_owls_are_active_at_night() -> None:
    night = {True: [0, 0], False: [0, 0]}
    for cid, session in _sessions():
        activity = ACTIVITY[cid]
        hour = session.start.astimezone(ZoneInfo(activity.timezone)).hour
        night[activity.night_owl][0] += hour >= 22 or hour < 4
        night[activity.night_owl][1] += 1
    owls, others = (night[k][0] / night[k][1] for k in (True, False))
    assert night[True][1] > 100
    assert owls > 0.4
    assert owls > 1.5 * others


def test_clean_active_hours_anchor_the_preference() -> None:
    """Both modes describe the same people: realistic sessions fall in the clean windows
    far more often than the windows' share of the day."""
    by_id = {c.customer_id: c for c in POPULATION}
    sessions = _sessions()
    inside = sum(by_id[cid].is_active_at(s.start) for cid, s in sessions) / len(sessions)
    chance = sum(
        sum((end - start) % 24 for start, end in by_id[cid].active_hours) / 24
        for cid, _ in sessions
    ) / len(sessions)
    assert inside > 1.6 * chance


def test_preferred_hours_drift_for_a_share_of_customers() -> None:
    drifting = [a for a in ACTIVITY.values() if a.drift_h > 0]
    assert 0.2 < len(drifting) / len(ACTIVITY) < 0.4
    moved = [abs(a.drift_at(START + timedelta(weeks=4)) - a.drift_at(START)) for a in drifting]
    assert sum(m > 0.5 for m in moved) / len(moved) > 0.5
    assert all(a.drift_at(START) == 0.0 for a in ACTIVITY.values() if a.drift_h == 0)


def test_active_within_scores_a_send_against_the_truth() -> None:
    truth = max(TRUTH.values(), key=len)
    session = next(s for s in truth if s.end > s.start)
    assert active_within(truth, session.start)
    assert active_within(truth, session.start - timedelta(minutes=29))
    assert active_within(truth, session.end)
    assert active_within(truth, session.start, after=timedelta(0))
    quiet = [
        a.end + (b.start - a.end) / 2
        for a, b in pairwise(truth)
        if b.start - a.end > timedelta(hours=2)
    ]
    assert quiet
    assert not any(active_within(truth, t) for t in quiet)
