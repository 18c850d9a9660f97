"""Trigger detectors: when a moment is worth a message, and which occurrence it is (its key)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from stream_app.clock import to_ms
from stream_app.decisions.campaigns import (
    BackInStock,
    BrowseAbandonment,
    Campaign,
    CartAbandonment,
    Geofence,
    PriceDrop,
    Replenishment,
    SegmentEntry,
    WinBack,
)
from stream_app.decisions.triggers import (
    Hit,
    ItemAudience,
    ItemChange,
    Wait,
    back_in_stock,
    browse_abandonment,
    catalog_hits,
    geofence,
    price_drop,
    profile_hits,
    replenishment,
    segment_entry,
    win_back,
)
from stream_app.events.decision import ContentItem
from stream_app.profiles.derive import ProfileView, ValueRules, derive
from stream_app.profiles.state import Decayed, ProfileState
from tests.unit.fixtures import NOW

MS = timedelta(milliseconds=1)
MIN = timedelta(minutes=1)
H = timedelta(hours=1)
DAY = timedelta(days=1)

BROWSE = BrowseAbandonment(min_views=3, within=24 * H, idle=H)
SHOES = {"s1": "shoes", "s2": "shoes", "s3": "shoes", "s4": "shoes", "t1": "toys", "t2": "toys"}


def view_of(
    *,
    now: datetime = NOW,
    viewed: Mapping[str, datetime] | None = None,
    cart: Sequence[tuple[str, datetime]] = (),
    orders: Sequence[datetime] = (),
    fields: Mapping[str, str] | None = None,
) -> ProfileView:
    """The view at ``now`` of customer c-1 with these item views, cart adds (item, when),
    orders and extra stored ``fields``; tastes rank toys first."""
    stored: dict[str, str] = {"n": "50", "first_seen": str(to_ms(NOW - 400 * DAY))}
    if orders:
        stored |= {
            "n:purchase": str(len(orders)),
            "first:purchase": str(to_ms(min(orders))),
            "last:purchase": str(to_ms(max(orders))),
        }
    return derive(
        ProfileState(
            "c-1",
            stored | dict(fields or {}),
            tastes=Decayed(to_ms(now), {"c:toys": 2.0, "c:books": 1.0}),
            cart={item: [to_ms(at), "shoes", 20.0, 1, f"e-{item}", 0] for item, at in cart},
            viewed={item: [to_ms(at), SHOES.get(item, "")] for item, at in (viewed or {}).items()},
        ),
        now,
        ValueRules(),
    )


def every(days: float, last: datetime, orders: int = 3) -> list[datetime]:
    """``orders`` orders ``days`` apart, the last at ``last``."""
    return [last - timedelta(days=days * k) for k in range(orders)]


# browse abandonment

FIRST = NOW - 3 * H
SHOE_VIEWS = {"s1": FIRST, "s2": FIRST + 10 * MIN, "s3": FIRST + 20 * MIN}  # last 2 h 40 min ago


def test_browse_abandonment_hit_names_the_category_and_its_items() -> None:
    hit = browse_abandonment(view_of(viewed=SHOE_VIEWS), SHOES, BROWSE)
    assert hit == Hit(
        "browse_abandonment",
        "c-1",
        f"browse:shoes:{to_ms(FIRST + 20 * MIN)}",
        FIRST + 20 * MIN,
        "3 shoes views, idle 2 h 40 min, no cart",
        tuple(ContentItem(item_id=i, category="shoes") for i in ("s3", "s2", "s1")),
        "shoes",
    )


def test_browse_abandonment_needs_min_views_of_one_category() -> None:
    two = {"s1": FIRST, "s2": FIRST + MIN}
    assert browse_abandonment(view_of(viewed=two), SHOES, BROWSE) is None
    mixed = two | {"t1": FIRST, "t2": FIRST + MIN}  # 2 + 2 is not 3 of one category
    assert browse_abandonment(view_of(viewed=mixed), SHOES, BROWSE) is None


def test_unknown_items_are_not_grouped_together() -> None:
    unknown = {"x1": FIRST, "x2": FIRST + MIN, "x3": FIRST + 2 * MIN}
    assert browse_abandonment(view_of(viewed=unknown), SHOES, BROWSE) is None
    hit = browse_abandonment(view_of(viewed=SHOE_VIEWS | unknown), SHOES, BROWSE)
    assert isinstance(hit, Hit)
    assert hit.category == "shoes"
    assert {i.item_id for i in hit.items} == {"s1", "s2", "s3"}


def test_the_most_viewed_category_wins() -> None:
    toys = {"t1": FIRST, "t2": FIRST + MIN}
    hit = browse_abandonment(
        view_of(viewed=SHOE_VIEWS | toys), SHOES, BROWSE.model_copy(update={"min_views": 2})
    )
    assert isinstance(hit, Hit)
    assert hit.category == "shoes"


def test_views_count_only_within_the_window() -> None:
    since = NOW - BROWSE.within
    at_the_edge = {"s1": since, "s2": FIRST + 10 * MIN, "s3": FIRST + 20 * MIN}
    hit = browse_abandonment(view_of(viewed=at_the_edge), SHOES, BROWSE)
    assert isinstance(hit, Hit)
    assert hit.key == f"browse:shoes:{to_ms(FIRST + 20 * MIN)}"
    just_out = at_the_edge | {"s1": since - MS}
    assert browse_abandonment(view_of(viewed=just_out), SHOES, BROWSE) is None


def test_browsing_not_idle_long_enough_waits_until_it_is() -> None:
    last = FIRST + 20 * MIN
    assert browse_abandonment(view_of(now=last + H - MS, viewed=SHOE_VIEWS), SHOES, BROWSE) == (
        Wait(last + H)
    )
    assert isinstance(
        browse_abandonment(view_of(now=last + H, viewed=SHOE_VIEWS), SHOES, BROWSE), Hit
    )


def test_a_cart_add_since_the_first_view_cancels_it() -> None:
    for added in (FIRST, NOW - MIN):
        view = view_of(viewed=SHOE_VIEWS, cart=[("z", added)])
        assert browse_abandonment(view, SHOES, BROWSE) is None, added
    older_cart = view_of(viewed=SHOE_VIEWS, cart=[("z", FIRST - MS)])
    assert isinstance(browse_abandonment(older_cart, SHOES, BROWSE), Hit)


def test_an_order_since_the_first_view_cancels_it() -> None:
    for ordered in (FIRST, NOW - MIN):
        view = view_of(viewed=SHOE_VIEWS, orders=[ordered])
        assert browse_abandonment(view, SHOES, BROWSE) is None, ordered
    older_order = view_of(viewed=SHOE_VIEWS, orders=[FIRST - MS])
    assert isinstance(browse_abandonment(older_order, SHOES, BROWSE), Hit)


def test_browse_key_is_the_burst_of_browsing_not_the_moment_of_looking() -> None:
    def key(now: datetime, viewed: Mapping[str, datetime]) -> str:
        hit = browse_abandonment(view_of(now=now, viewed=viewed), SHOES, BROWSE)
        assert isinstance(hit, Hit)
        return hit.key

    original = key(NOW, SHOE_VIEWS)
    assert key(NOW + 5 * H, SHOE_VIEWS) == original
    # Older views sliding out of the window do not make it another trigger...
    assert key(FIRST + 20 * H, SHOE_VIEWS | {"s0": FIRST - 10 * H}) == original
    # ...a new view does (the cooldown keeps a customer from hearing twice too soon).
    assert key(NOW, SHOE_VIEWS | {"s4": FIRST + 30 * MIN}) != original
    later = {item: at + 2 * DAY for item, at in SHOE_VIEWS.items()}
    assert key(NOW + 2 * DAY, later) != original


def test_no_views_no_browse_abandonment() -> None:
    assert browse_abandonment(view_of(), SHOES, BROWSE) is None


# replenishment

LEAD = Replenishment(lead=DAY)


def test_replenishment_is_due_from_lead_before_the_customers_own_interval() -> None:
    last = NOW - 9 * DAY  # every 10 days: due tomorrow noon, lead 1 day: from now
    view = view_of(orders=every(10, last))
    hit = replenishment(view, LEAD)
    assert hit == Hit(
        "replenishment",
        "c-1",
        f"replenish:{to_ms(NOW + DAY)}",
        NOW,
        "usually orders every 10 days; next due 2026-06-02",
        category="toys",
    )
    # Not due yet: look again exactly when it is.
    assert replenishment(view_of(orders=every(10, last + MS)), LEAD) == Wait(NOW + MS)


def test_replenishment_key_is_the_due_date() -> None:
    last = NOW - 9 * DAY
    first = replenishment(view_of(orders=every(10, last)), LEAD)
    again = replenishment(view_of(now=NOW + 6 * H, orders=every(10, last)), LEAD)
    reordered = replenishment(view_of(now=NOW + 9 * DAY, orders=every(9, NOW, orders=4)), LEAD)
    assert first is not None
    assert again is not None
    assert reordered is not None
    assert first.key == again.key != reordered.key


def test_overdue_replenishment_window_starts_lead_before_now() -> None:
    hit = replenishment(view_of(orders=every(10, NOW - 14 * DAY)), LEAD)  # due 4 days ago
    assert hit is not None
    assert hit.at == NOW - DAY


@pytest.mark.parametrize(
    "orders",
    [
        pytest.param(every(10, NOW - 9 * DAY, orders=1), id="one-order-has-no-rhythm"),
        pytest.param(every(10, NOW - 31 * DAY), id="lapsed"),
        pytest.param((), id="never-ordered"),
    ],
)
def test_no_replenishment_without_a_live_rhythm(orders: Sequence[datetime]) -> None:
    assert replenishment(view_of(orders=orders), LEAD) is None


# win back


def test_win_back_once_the_customer_is_later_than_usual() -> None:
    last = NOW - 20 * DAY  # every 10 days: at risk after 15
    hit = win_back(view_of(orders=every(10, last)))
    assert hit == Hit(
        "win_back",
        "c-1",
        f"winback:{to_ms(last) // 60_000}",
        NOW,
        "no order for 20 days, usually every 10",
        category="toys",
    )


@pytest.mark.parametrize(
    ("since_last", "hit"),
    [(15 * DAY, False), (15 * DAY + MS, True), (30 * DAY, True), (30 * DAY + MS, False)],
)
def test_win_back_only_while_at_risk(since_last: timedelta, hit: bool) -> None:
    # Every 10 days: active up to 1.5 intervals, at risk up to 3, lapsed after.
    view = view_of(orders=every(10, NOW - since_last))
    assert isinstance(win_back(view), Hit) is hit


def test_win_back_of_an_active_customer_waits_for_the_turn_to_at_risk() -> None:
    last = NOW - 5 * DAY  # every 10 days: at risk after 15, i.e. in 10 days
    assert win_back(view_of(orders=every(10, last))) == Wait(last + 15 * DAY + MS)


def test_win_back_key_is_the_lapse() -> None:
    orders = every(10, NOW - 20 * DAY)
    first = win_back(view_of(orders=orders))
    later = win_back(view_of(now=NOW + 3 * DAY + 7 * MS, orders=orders))
    other = win_back(view_of(orders=every(10, NOW - 20 * DAY + MIN)))
    assert first is not None
    assert later is not None
    assert other is not None
    assert first.key == later.key != other.key
    assert later.at == NOW + 3 * DAY + 7 * MS


def test_no_win_back_for_a_customer_who_never_ordered() -> None:
    assert win_back(view_of()) is None


# geofence


def near(at: datetime, *, store: str = "s-7", weather: str | None = "rain") -> dict[str, str]:
    fields = {"near_store": store, "@near_store": str(to_ms(at)), "store_distance_m": "120"}
    return fields | ({"weather": weather} if weather else {})


def test_geofence_hit_near_a_store_recently() -> None:
    at = NOW - 5 * MIN
    hit = geofence(view_of(fields=near(at)), Geofence())
    assert hit == Hit(
        "geofence",
        "c-1",
        f"geo:s-7:{at.date().isoformat()}",
        at,
        "120 m from store s-7, rain",
        category="toys",
    )


def test_geofence_is_once_per_store_and_local_day() -> None:
    def key(at: datetime) -> str:
        fields = near(at) | {"timezone": "America/New_York"}
        hit = geofence(view_of(now=at, fields=fields), Geofence())
        assert isinstance(hit, Hit)
        return hit.key

    evening = datetime(2026, 6, 1, 23, 0, tzinfo=UTC)  # 19:00 in New York
    assert key(evening) == key(evening + 2 * H) == "geo:s-7:2026-06-01"  # 21:00, new UTC day
    assert key(evening + 6 * H) == "geo:s-7:2026-06-02"  # 01:00 local, the next day


def test_geofence_only_within_its_window() -> None:
    trigger = Geofence(within=15 * MIN)
    assert geofence(view_of(fields=near(NOW - 15 * MIN)), trigger) is not None
    assert geofence(view_of(fields=near(NOW - 15 * MIN - MS)), trigger) is None


def test_geofence_needs_a_store_and_its_stamp() -> None:
    fields = near(NOW)
    assert (
        geofence(view_of(fields={k: v for k, v in fields.items() if k != "near_store"}), Geofence())
        is None
    )
    assert (
        geofence(
            view_of(fields={k: v for k, v in fields.items() if k != "@near_store"}), Geofence()
        )
        is None
    )


@pytest.mark.parametrize(
    ("weather", "hit"), [("rain", True), ("snow", True), ("sun", False), (None, False)]
)
def test_geofence_weather_filter(weather: str | None, hit: bool) -> None:
    trigger = Geofence(weather=("rain", "snow"))
    assert (geofence(view_of(fields=near(NOW, weather=weather)), trigger) is not None) is hit
    assert geofence(view_of(fields=near(NOW, weather=weather)), Geofence()) is not None  # no filter


def test_geofence_key_is_the_store_and_the_day() -> None:
    def key(at: datetime, store: str = "s-7") -> str:
        hit = geofence(view_of(now=at, fields=near(at, store=store)), Geofence())
        assert hit is not None
        return hit.key

    morning = key(NOW.replace(hour=0))
    assert key(NOW.replace(hour=23, minute=59)) == morning
    assert key(NOW.replace(hour=23, minute=59), store="s-8") != morning
    assert key(NOW.replace(hour=0) + DAY) != morning


# segment entry


def test_segment_entry_once_per_segment_and_day() -> None:
    hit = segment_entry(view_of(), ["loyal", "vip"], "vip")
    assert hit == Hit(
        "segment_entry",
        "c-1",
        f"seg:vip:{to_ms(NOW) // 86_400_000}",
        NOW,
        "entered segment vip",
        category="toys",
    )
    assert segment_entry(view_of(), ["loyal"], "vip") is None
    end_of_day = segment_entry(view_of(now=NOW.replace(hour=23, minute=59)), ["vip"], "vip")
    next_day = segment_entry(view_of(now=NOW.replace(hour=0) + DAY), ["vip"], "vip")
    assert end_of_day is not None
    assert next_day is not None
    assert end_of_day.key == hit.key != next_day.key


# catalog changes


def change(
    price: float | None = 75.0,
    previous: float | None = 100.0,
    *,
    in_stock: bool = True,
    was_in_stock: bool | None = True,
    at: datetime = NOW,
) -> ItemChange:
    return ItemChange("sku-1", "shoes", at, price, previous, in_stock, was_in_stock)


@pytest.mark.parametrize(
    ("price", "previous", "key"),
    [
        pytest.param(75.0, 100.0, f"price:sku-1:{to_ms(NOW)}", id="exactly-min-drop"),
        pytest.param(75.01, 100.0, None, id="just-under-min-drop"),
        pytest.param(50.0, 100.0, f"price:sku-1:{to_ms(NOW)}", id="bigger-drop"),
        pytest.param(120.0, 100.0, None, id="price-rise"),
        pytest.param(None, 100.0, None, id="no-price"),
        pytest.param(75.0, None, None, id="no-previous-price"),
        pytest.param(75.0, 0.0, None, id="previously-free"),
    ],
)
def test_price_drop_from_min_drop(
    price: float | None, previous: float | None, key: str | None
) -> None:
    assert price_drop(change(price, previous), PriceDrop(min_drop=0.25)) == key


def test_price_drop_of_an_unavailable_item_is_no_trigger() -> None:
    assert price_drop(change(in_stock=False), PriceDrop(min_drop=0.25)) is None


def test_price_drop_key_is_the_update_so_a_replay_is_the_same_trigger() -> None:
    trigger = PriceDrop(min_drop=0.25)
    assert price_drop(change(at=NOW), trigger) == price_drop(change(at=NOW), trigger)
    # A later drop, even to the same price, is news again.
    assert price_drop(change(at=NOW), trigger) != price_drop(change(at=NOW + H), trigger)


def test_a_ten_percent_drop_of_an_ordinary_price_counts() -> None:
    # 1 - 90/100 is 0.0999... in floating point: prices are compared in cents.
    assert price_drop(change(90.0, 100.0), PriceDrop(min_drop=0.1)) is not None
    assert price_drop(change(80.0, 100.0), PriceDrop(min_drop=0.2)) is not None
    assert price_drop(change(90.01, 100.0), PriceDrop(min_drop=0.1)) is None


@pytest.mark.parametrize(
    ("was_in_stock", "in_stock", "hit"),
    [(False, True, True), (None, True, False), (True, True, False), (False, False, False)],
)
def test_back_in_stock_only_from_a_known_out_of_stock_state(
    was_in_stock: bool | None, in_stock: bool, hit: bool
) -> None:
    key = back_in_stock(change(in_stock=in_stock, was_in_stock=was_in_stock), BackInStock())
    assert key == (f"stock:sku-1:{to_ms(NOW)}" if hit else None)


def test_back_in_stock_key_is_the_restock() -> None:
    again = back_in_stock(change(was_in_stock=False), BackInStock())
    later = back_in_stock(change(was_in_stock=False, at=NOW + DAY), BackInStock())
    assert again == back_in_stock(change(was_in_stock=False), BackInStock()) != later


def test_catalog_hits_go_to_viewers_within_viewed_within() -> None:
    trigger = PriceDrop(min_drop=0.25, viewed_within=14 * DAY)
    viewers = {"c-2": NOW - 14 * DAY, "c-3": NOW - 14 * DAY - MS, "c-1": NOW - H}
    hits = catalog_hits(change(), trigger, ItemAudience(viewers))
    assert [h.customer_id for h in hits] == ["c-1", "c-2"]
    assert hits[0] == Hit(
        "price_drop",
        "c-1",
        f"price:sku-1:{to_ms(NOW)}",
        NOW,
        "viewed item now 25% cheaper",
        (ContentItem(item_id="sku-1", category="shoes", price=75.0),),
        "shoes",
    )


def test_catalog_hits_for_a_restock_and_for_no_change() -> None:
    viewers = ItemAudience({"c-1": NOW - H})
    (hit,) = catalog_hits(change(was_in_stock=False), BackInStock(), viewers)
    assert (hit.trigger, hit.reason) == ("back_in_stock", "viewed item back in stock")
    assert catalog_hits(change(was_in_stock=True), BackInStock(), viewers) == []
    assert catalog_hits(change(80.0), PriceDrop(min_drop=0.25), viewers) == []


def test_catalog_hits_go_to_wishers_whenever_they_wished() -> None:
    """A wish has no window (it stands until removed); a wisher who also viewed the item
    hears of it once, as a wish; the hit names the item, so it stands only while wished."""
    wishers = {"c-1": NOW - 100 * DAY, "c-2": NOW - H}
    audience = ItemAudience({"c-2": NOW - H, "c-3": NOW - H}, wishers)
    hits = catalog_hits(change(), PriceDrop(min_drop=0.25), audience)
    assert [(h.customer_id, h.reason, h.wished) for h in hits] == [
        ("c-1", "on your wishlist, now 25% cheaper", "sku-1"),
        ("c-2", "on your wishlist, now 25% cheaper", "sku-1"),
        ("c-3", "viewed item now 25% cheaper", None),
    ]
    restock = catalog_hits(change(was_in_stock=False), BackInStock(), ItemAudience({}, wishers))
    assert restock[0].reason == "on your wishlist, back in stock"


# dispatch over a customer's campaigns


def test_profile_hits_runs_the_profile_triggers_of_the_campaigns() -> None:
    view = view_of(
        now=FIRST + 50 * MIN,  # shoes browsing idle 30 min: not yet
        viewed=SHOE_VIEWS,
        orders=every(10, FIRST - 20 * DAY),  # at risk
        fields=near(FIRST + 45 * MIN),
    )
    campaigns = [
        Campaign(id="browse", trigger=BROWSE),
        Campaign(id="vip", trigger=SegmentEntry(segment="vip")),
        Campaign(id="sunny", trigger=Geofence(weather=("sun",))),
        Campaign(id="winback", trigger=WinBack()),
        Campaign(id="geo", trigger=Geofence()),
        Campaign(id="replenish", trigger=Replenishment()),  # at risk, overdue: a hit too
        Campaign(id="loyal", trigger=SegmentEntry(segment="loyal")),
        Campaign(id="cart", trigger=CartAbandonment()),
        Campaign(id="drop", trigger=PriceDrop()),
        Campaign(id="stock", trigger=BackInStock()),
    ]
    hits, waits = profile_hits(view, ["loyal"], campaigns, SHOES)
    assert [h.trigger for h in hits] == ["win_back", "geofence", "replenishment", "segment_entry"]
    assert hits[-1].key.startswith("seg:loyal:")
    assert waits == [FIRST + 20 * MIN + H]
    assert profile_hits(view, ["loyal"], [], SHOES) == ([], [])
    # After an event, only the triggers it can change are looked at: a page view changes
    # no trigger's answer (their waits stand), a proximity reading the geofence's.
    assert profile_hits(view, [], campaigns, SHOES, changed={"page_view"}) == ([], [])
    found, _ = profile_hits(view, [], campaigns, SHOES, changed={"proximity"})
    assert [h.trigger for h in found] == ["geofence"]
