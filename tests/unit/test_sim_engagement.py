"""Ground-truth engagement and the taste shift of the learning bench."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from stream_app.simulation.engagement import TasteShift, is_active_hour, p_engage
from stream_app.simulation.population import make_population

AT = datetime(2026, 6, 8, tzinfo=UTC)
PEOPLE = make_population(400, seed=3)


def favourite(tastes: tuple[tuple[str, float], ...]) -> str:
    return max(tastes, key=lambda kv: kv[1])[0]


def test_probabilities_are_valid_and_follow_taste_hours_and_offer() -> None:
    for customer in PEOPLE[:50]:
        top = favourite(customer.tastes)
        bottom = min(customer.tastes, key=lambda kv: kv[1])[0]
        active = next(h for h in range(24) if is_active_hour(customer, h))
        idle = next(h for h in range(24) if not is_active_hour(customer, h))
        p = p_engage(customer, top, "none", active)
        assert 0.0 < p <= 1.0
        assert p > p_engage(customer, bottom, "none", active)
        assert p > p_engage(customer, top, "none", idle)
        assert p_engage(customer, top, "discount", active) >= p
    stingy = replace(PEOPLE[0], price_sensitivity=0.0)
    keen = replace(PEOPLE[0], price_sensitivity=1.0)
    top = favourite(stingy.tastes)
    assert p_engage(stingy, top, "discount", 20) == p_engage(stingy, top, "none", 20)
    assert p_engage(keen, top, "discount", 20) > p_engage(keen, top, "none", 20)


def test_shift_affects_a_deterministic_share_from_its_time_on() -> None:
    shift = TasteShift(at=AT, share=0.5, seed=1)
    affected = [c for c in PEOPLE if shift.affects(c)]
    assert 0.4 < len(affected) / len(PEOPLE) < 0.6
    assert affected == [c for c in PEOPLE if TasteShift(at=AT, share=0.5, seed=1).affects(c)]
    for customer in PEOPLE:
        assert shift.customer_at(customer, AT - timedelta(seconds=1)) is customer
        if not shift.affects(customer):
            assert shift.customer_at(customer, AT) is customer


def test_shifted_customers_love_the_trend_and_keep_other_hours() -> None:
    shift = TasteShift(at=AT, share=1.0, seed=2, hour_shift=12)
    for customer in PEOPLE[:100]:
        after = shift.customer_at(customer, AT)
        assert favourite(after.tastes) in shift.trend
        old = favourite(customer.tastes)
        if old not in shift.trend:
            assert after.taste(old) < 0.2
        assert sorted(w for _, w in after.tastes) == sorted(w for _, w in customer.tastes)
        assert after.active_hours == tuple(
            ((s + 12) % 24, (e + 12) % 24) for s, e in customer.active_hours
        )


def test_fashion_moves_for_everyone_at_the_shift() -> None:
    shift = TasteShift(at=AT, share=0.0, seed=3, fashion_boost=2.5)
    assert not set(shift.past_trend) & set(shift.trend)
    before, after = AT - timedelta(seconds=1), AT
    for name in shift.past_trend:
        assert (shift.appeal(name, before), shift.appeal(name, after)) == (2.5, 1.0)
    for name in shift.trend:
        assert (shift.appeal(name, before), shift.appeal(name, after)) == (1.0, 2.5)
    customer = PEOPLE[0]
    hot = shift.trend[0]
    plain = p_engage(customer, hot, "none", 20)
    assert p_engage(customer, hot, "none", 20, shift.appeal(hot, after)) == pytest.approx(
        min(1.0, 2.5 * plain)
    )


def test_share_bounds_and_aware_time_are_checked() -> None:
    with pytest.raises(ValueError, match="share"):
        TasteShift(at=AT, share=1.5, seed=0)
    with pytest.raises(ValueError, match="aware"):
        TasteShift(at=AT.replace(tzinfo=None), share=0.5, seed=0)
