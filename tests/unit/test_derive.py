from __future__ import annotations

from datetime import timedelta

import pytest

from stream_app.api.models import Profile
from stream_app.clock import to_ms
from stream_app.profiles.derive import ValueRules, derive
from stream_app.profiles.state import CartEntry, Decayed, ProfileState
from tests.unit.fixtures import NOW

DAY = 86_400_000
RULES = ValueRules()


def at(days_ago: float) -> str:
    return str(int(to_ms(NOW) - days_ago * DAY))


def profile(**fields: str) -> ProfileState:
    return ProfileState("c-1", {"n": "10", "first_seen": at(400), "last_seen": at(1), **fields})


def buyer(orders: int, first_days_ago: float, last_days_ago: float, value: float) -> ProfileState:
    return profile(
        **{
            "n:purchase": str(orders),
            "first:purchase": at(first_days_ago),
            "last:purchase": at(last_days_ago),
            "spend:EUR": str(round(value * 100)),
        }
    )


def test_frequent_recent_big_spender_is_vip_and_active() -> None:
    view = derive(buyer(orders=12, first_days_ago=120, last_days_ago=3, value=1500), NOW, RULES)
    assert (view.r, view.f, view.m, view.tier) == (5, 5, 5, "vip")
    assert view.interval_days == pytest.approx(117 / 11)
    assert view.lifecycle == "active"
    assert view.aov == pytest.approx(125.0)


@pytest.mark.parametrize(
    ("last_days_ago", "stage"),
    [(14, "active"), (16, "at_risk"), (31, "lapsed"), (61, "churned")],
)
def test_lifecycle_follows_the_customers_own_rhythm(last_days_ago: float, stage: str) -> None:
    # 5 orders over 40 days: one every 10 days, so 1.5x/3x/6x = 15/30/60 days.
    view = derive(
        buyer(5, first_days_ago=40 + last_days_ago, last_days_ago=last_days_ago, value=300),
        NOW,
        RULES,
    )
    assert view.interval_days == pytest.approx(10)
    assert view.lifecycle == stage
    assert view.next_purchase_due == NOW - timedelta(days=last_days_ago) + timedelta(days=10)


def test_newcomer_is_new_in_tier_and_lifecycle() -> None:
    view = derive(
        ProfileState("c-1", {"n": "3", "first_seen": at(2), "last_seen": at(1)}), NOW, RULES
    )
    assert (view.tier, view.lifecycle, view.orders, view.recency_days) == ("new", "new", 0, None)


def test_tastes_decay_with_their_half_life() -> None:
    week_ago = to_ms(NOW) - 7 * DAY
    stored = ProfileState(
        "c-1", {"n": "1"}, tastes=Decayed(week_ago, {"c:shoes": 8.0, "c:toys": 1.0})
    )
    view = derive(stored, NOW, RULES)
    assert view.tastes["c:shoes"] == pytest.approx(4.0)
    assert view.top_categories == ["shoes", "toys"]


def test_rhythm_is_stored_local_and_never_relabelled() -> None:
    # Bucket 18 = Monday 18:00 local, binned when applied: read in any season, it stays 18.
    stored = ProfileState(
        "c-1", {"n": "1", "timezone": "Europe/Berlin"}, rhythm=Decayed(to_ms(NOW), {"18": 1.0})
    )
    week = derive(stored, NOW, RULES).rhythm_local
    assert week[18] == pytest.approx(1.0)
    assert sum(week) == pytest.approx(1.0)


def test_cart_shows_only_lines_added_after_removal_and_last_order() -> None:
    lines: dict[str, CartEntry] = {
        "kept": [to_ms(NOW) - 1000, "c", 1.0, 1, "e1", 0],
        "removed": [to_ms(NOW) - 2000, "c", 1.0, 1, "e2", to_ms(NOW) - 1500],
        "bought": [to_ms(NOW) - 9 * DAY, "c", 1.0, 1, "e3", 0],
    }
    stored = ProfileState("c-1", {"n": "3", "last:purchase": at(5), "n:purchase": "1"}, cart=lines)
    assert [line.item_id for line in derive(stored, NOW, RULES).cart] == ["kept"]


def test_price_band_from_average_unit_price() -> None:
    view = derive(profile(**{"units:EUR": "4", "units_value:EUR": "48000"}), NOW, RULES)
    assert (view.avg_unit_price, view.price_band) == (120.0, "premium")


def test_local_zone_is_the_customers_else_the_configured_default() -> None:
    kolkata = ValueRules(default_timezone="Asia/Kolkata")
    assert derive(ProfileState("c-1", {"n": "1"}), NOW, kolkata).local_zone == "Asia/Kolkata"
    known = ProfileState("c-1", {"n": "1", "timezone": "Europe/Berlin"})
    assert derive(known, NOW, kolkata).local_zone == "Europe/Berlin"
    assert derive(known, NOW, kolkata).timezone == "Europe/Berlin"
    assert derive(ProfileState("c-1", {"n": "1"}), NOW, RULES).timezone is None


def test_the_profile_shows_the_items_on_the_wishlist_latest_first() -> None:
    t = to_ms(NOW)
    wishes: dict[str, list[int | str]] = {
        "old": [t - 3 * DAY, "c", 1],
        "new": [t - DAY, "c", 1],
        "gone": [t - 2 * DAY, "", 0],
    }
    shown = derive(ProfileState("c-1", {"n": "3"}, wishlist=wishes), NOW, RULES).as_dict()
    assert shown["wishlist"] == ["new", "old"]
    assert Profile.model_validate({**shown, "segments": []}).wishlist == ["new", "old"]
