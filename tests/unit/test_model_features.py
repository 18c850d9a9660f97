"""Features of a candidate: known values from a known profile, and fast enough to score live."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

import pytest

from stream_app.clock import to_ms
from stream_app.model.features import Candidate, featurize
from stream_app.profiles.derive import ProfileView, ValueRules, derive
from stream_app.profiles.state import Decayed, ProfileState
from tests.unit.fixtures import NOW

DAY = 86_400_000


def view_of(**fields: str) -> ProfileView:
    stored = ProfileState(
        "c-1",
        {
            "n": "40",
            "first_seen": str(to_ms(NOW) - 200 * DAY),
            "last_seen": str(to_ms(NOW) - DAY),
            "n:purchase": "3",
            "first:purchase": str(to_ms(NOW) - 100 * DAY),
            "last:purchase": str(to_ms(NOW) - 9 * DAY),
            "spend:EUR": "25000",
            "timezone": "America/New_York",
            "weather": "rain",
            **fields,
        },
        tastes=Decayed(to_ms(NOW), {"c:toys": 1.0, "c:books": 3.0, "b:Brickle": 2.0}),
        # local hours (binned when applied): 19:00 on Monday and Tuesday in New York
        rhythm=Decayed(to_ms(NOW), {"19": 2.0, "43": 1.0, "6": 1.0}),
    )
    return derive(stored, NOW, ValueRules())


def test_known_values() -> None:
    view = view_of()
    send_at = datetime(2026, 6, 6, 23, 30, tzinfo=UTC)  # Saturday 19:30 in New York
    x = featurize(view, Candidate("summer", "push", "toys", "discount", send_at))
    assert x["taste_share"] == pytest.approx(0.25)
    assert x["rhythm_share"] == pytest.approx(0.75)
    assert x["log_recency_days"] == pytest.approx(math.log1p(9))
    assert "recency_never" not in x
    assert x["log_hours_since_seen"] == pytest.approx(math.log1p(6 * 24 + 11.5))
    assert x["frequency"] == 3.0
    assert x["log_monetary"] == pytest.approx(math.log1p(250))
    assert (x["r_score"], x["f_score"], x["m_score"]) == (4.0, 3.0, 3.0)
    assert x["weekend"] == 1.0
    assert x["local_hour_sin"] == pytest.approx(math.sin(2 * math.pi * 19.5 / 24))
    for one_hot in (
        "lifecycle=active",
        "tier=loyal",
        "campaign=summer",
        "channel=push",
        "offer=discount",
        "category=toys",
        "weather=rain",
    ):
        assert x[one_hot] == 1.0
    assert all(isinstance(v, float) for v in x.values())


def test_unknowns_have_defaults() -> None:
    stored = ProfileState("c-2", {"n": "1", "first_seen": str(to_ms(NOW))})
    x = featurize(derive(stored, NOW, ValueRules()), Candidate("c", "email", None, "none", NOW))
    assert x["recency_never"] == 1.0
    assert "log_hours_since_seen" not in x
    assert x["taste_share"] == 0.0
    assert x["rhythm_share"] == 0.0
    assert x["category=none"] == 1.0
    assert x["weather=unknown"] == 1.0
    assert x["local_hour_cos"] == pytest.approx(-1.0)  # 12:00 UTC without a zone: noon


def test_fast_enough_to_score_every_candidate() -> None:
    view = view_of()
    candidate = Candidate("summer", "push", "toys", "discount", NOW + timedelta(hours=3))
    featurize(view, candidate)
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        featurize(view, candidate)
    per_call_us = (time.perf_counter() - started) / rounds * 1e6
    assert per_call_us < 30 * 3  # 30 µs budget, slack for a busy CI machine
