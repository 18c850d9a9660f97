"""The chance a send is read (decisions/moments.py): bounded, learned, sensible."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.clock import to_ms
from stream_app.decisions.lifetable import hazards
from stream_app.decisions.moments import (
    Outlook,
    PresencePriors,
    learned_priors,
    outlook,
    presence_sums,
)
from stream_app.profiles.presence import GAP_EDGES_MIN, GAP_FIELDS, Presence, mark_presence

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
MINUTE = 60_000
FLAT = (1 / 24,) * 24
PRIORS = PresencePriors()


def test_the_life_table_recovers_a_constant_hazard() -> None:
    """Pauses drawn with a known constant hazard give it back, bucket by bucket."""
    rng = random.Random(3)
    rate = 1 / 50  # per minute
    counts = [0] * len(GAP_FIELDS)
    for _ in range(200_000):
        pause = rng.expovariate(rate)
        counts[sum(pause >= edge for edge in GAP_EDGES_MIN)] += 1
    table = hazards(counts, rate)
    for bucket in range(len(GAP_EDGES_MIN)):
        assert math.isclose(table[bucket], rate, rel_tol=0.05), bucket


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 500), min_size=8, max_size=8),
    st.integers(0, 3 * 24 * 60),
    st.integers(0, 24 * 60),
    st.integers(0, 23),
)
def test_a_chance_is_a_probability(gaps: list[int], idle: int, ahead: int, hour: int) -> None:
    last = to_ms(NOW) - idle * MINUTE
    presence = Presence(last, last - 5 * MINUTE, tuple(gaps), recent_sessions=3.0)
    look = outlook(presence, last - 30 * 24 * 60 * MINUTE, NOW, FLAT, PRIORS)
    assert 0.0 <= look.chance(to_ms(NOW) + ahead * MINUTE, hour) <= 1.0


def shopper(activity_minutes: list[int]) -> Presence:
    fields: dict[str, int | float | str] = {}
    for minute in activity_minutes:
        mark_presence(fields, to_ms(NOW) + minute * MINUTE)
    return Presence.of(fields)


def test_a_shopper_still_browsing_is_likelier_read_now_than_one_who_paused() -> None:
    # Busy for half an hour, a view every minute; then asked 1 min or 25 min after the last.
    history = shopper(list(range(-24 * 60, -24 * 60 + 30)) + list(range(-30, 0)))
    first = to_ms(NOW) - 2 * 24 * 60 * MINUTE

    def read_now(idle: int) -> float:
        at = NOW.timestamp() * 1000 + idle * MINUTE
        look = outlook(history, first, datetime.fromtimestamp(at / 1000, UTC), FLAT, PRIORS)
        return look.chance(int(at), 12)

    assert read_now(1) > 0.5 > read_now(25)


def test_everyones_presence_is_the_mean_of_customers() -> None:
    week = 7 * 24 * 60 * MINUTE
    quick = Presence(0, 0, (4, 0, 0, 0, 0, 0, 0, 0))
    slow = Presence(0, 0, (0, 0, 0, 0, 0, 0, 0, 2))
    sums = presence_sums([(quick, -week), (slow, -week), (Presence(None, None, (0,) * 8), None)], 0)
    learned = learned_priors(sums, PRIORS)
    assert learned.pauses == (0.5, 0, 0, 0, 0, 0, 0, 0.5)
    assert learned.visits_per_week == (1 + 3) / 2  # one session, three
    assert (learned.pause_strength, learned.visit_strength_weeks) == (
        PRIORS.pause_strength,
        PRIORS.visit_strength_weeks,
    )


def test_a_busy_hour_is_likelier_than_a_quiet_one_for_a_new_visit() -> None:
    evening = tuple(0.3 if hour == 19 else 0.7 / 23 for hour in range(24))
    look = Outlook(to_ms(NOW), None, None, (0.0,) * 8, 1 / 1440, evening)
    assert look.chance(to_ms(NOW), 19) > 5 * look.chance(to_ms(NOW), 3)
