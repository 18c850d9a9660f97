"""As-of reads (``api.routes_profiles``): a stored profile derived at a past time shows
its life cycle, recency, decayed tastes and segments as they were then."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.exceptions import RequestValidationError

from stream_app.api.routes_profiles import profile_at, read_time
from stream_app.clock import to_ms
from stream_app.profiles.derive import ValueRules
from stream_app.profiles.state import Decayed, ProfileState
from stream_app.segments.rules import SegmentDefinition, SegmentRules
from tests.unit.fixtures import NOW

DAY = timedelta(days=1)
RULES = SegmentRules(
    [
        SegmentDefinition("recent", "recency_days >= 0.0 && recency_days <= 7.0"),
        SegmentDefinition("lapsing", "lifecycle == 'at_risk' || lifecycle == 'lapsed'"),
    ]
)


def test_a_profile_read_as_of_its_last_order_is_the_profile_then() -> None:
    ordered = NOW - 60 * DAY
    first = ordered - 30 * DAY
    fields = {
        "n": 2,
        "n:purchase": 2,
        "first:purchase": to_ms(first),
        "last:purchase": to_ms(ordered),
        "first_seen": to_ms(first),
        "last_seen": to_ms(ordered),
        "spend:EUR": 5000,
    }
    state = ProfileState("c-1", fields, tastes=Decayed(to_ms(ordered), {"c:tea": 4.0}))
    then = profile_at(state, ordered, ValueRules(), RULES)
    now = profile_at(state, NOW, ValueRules(), RULES)
    assert (then.value.recency_days, then.lifecycle.stage) == (0.0, "active")
    assert now.value.recency_days == 60.0
    assert now.lifecycle.stage != "active"
    assert then.tastes["c:tea"] == 4.0 > now.tastes["c:tea"]
    assert (then.segments, now.segments) == (["recent"], ["lapsing"])


def test_the_read_time_defaults_to_now_and_is_never_in_the_future() -> None:
    assert read_time(NOW, None) == NOW
    assert read_time(NOW, NOW - DAY) == NOW - DAY
    with pytest.raises(RequestValidationError):
        read_time(NOW, NOW + timedelta(milliseconds=1))
