"""The oracle itself, on tiny hand-made logs with hand-computed expectations."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count
from types import MappingProxyType
from typing import Any

import pytest

from stream_app.events.clickstream import (
    AddToCart,
    PageView,
    ProductView,
    RemoveFromCart,
    Search,
)
from stream_app.events.feedback import Clicked, Delivered, Opened
from stream_app.events.identity import Consent, Traits
from stream_app.events.purchase import LineItem, Purchase
from stream_app.events.registry import EVENT_ADAPTERS, Event, Stream
from stream_app.events.sensor import Ambient, Location, Proximity
from stream_app.profiles.pseudonym import pseudonymize
from stream_app.settings import Settings
from tests.oracle.compare import diff, diff_basket, diff_top
from tests.oracle.config import MS_PER_DAY, OracleConfig
from tests.oracle.recompute import (
    BASKET_EXACT_UP_TO,
    Basket,
    CartLine,
    ExpectedProfile,
    Oracle,
    Outcome,
    derive,
    hour_of_week,
    normalize_query,
    recompute,
    to_ms,
)
from tests.oracle.redis_view import _cart, _decayed, subtract

#: A Monday, 10:30 UTC: hour of week 10.
T0 = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
DAY = timedelta(days=1)
CONFIG = OracleConfig(secret=b"test-secret", fx_to_base=MappingProxyType({"EUR": 1.0, "USD": 0.5}))
_ids = count()


def eid() -> str:
    return f"e{next(_ids)}"


def view(at: datetime, item: str = "sku-1", *, category: str = "shoes", **kw: Any) -> ProductView:
    return ProductView(
        type="product_view",
        event_id=kw.pop("event_id", eid()),
        event_time=at,
        customer_id=kw.pop("customer_id", "ann"),
        item_id=item,
        category=category,
        price=kw.pop("price", 10.0),
        **kw,
    )


def add(at: datetime, item: str = "sku-1", **kw: Any) -> AddToCart:
    return AddToCart(
        type="add_to_cart",
        event_id=kw.pop("event_id", eid()),
        event_time=at,
        customer_id="ann",
        item_id=item,
        category=kw.pop("category", "shoes"),
        price=kw.pop("price", 20.0),
        **kw,
    )


def remove(at: datetime, item: str = "sku-1") -> RemoveFromCart:
    return RemoveFromCart(
        type="remove_from_cart", event_id=eid(), event_time=at, customer_id="ann", item_id=item
    )


def purchase(
    at: datetime,
    lines: list[tuple[str, str, int, float]],
    *,
    order: str = "o1",
    total: float = 100.0,
    currency: str = "EUR",
    customer: str = "ann",
) -> Purchase:
    return Purchase(
        type="purchase",
        event_id=eid(),
        event_time=at,
        customer_id=customer,
        order_id=order,
        items=[LineItem(item_id=i, category=c, quantity=q, unit_price=p) for i, c, q, p in lines],
        total=total,
        currency=currency,
    )


def traits(at: datetime, customer: str = "ann", **kw: Any) -> Traits:
    return Traits(type="traits", event_id=eid(), event_time=at, customer_id=customer, **kw)


def one(events: list[Event], *, at: datetime | None = None, config: OracleConfig = CONFIG) -> Any:
    profiles = recompute(events, config, at_ms=None if at is None else to_ms(at))
    return profiles["ann"]


# --- time helpers -----------------------------------------------------------


def test_hour_of_week_is_local_monday_based() -> None:
    assert hour_of_week(0) == 72  # 1970-01-01 00:00 was a Thursday
    assert hour_of_week(to_ms(T0)) == 10
    assert hour_of_week(to_ms(datetime(2026, 3, 2, 0, 0, tzinfo=UTC))) == 0
    assert hour_of_week(to_ms(datetime(2026, 3, 8, 23, 59, 59, tzinfo=UTC))) == 167
    at = to_ms(datetime(2026, 3, 4, 15, 0, tzinfo=UTC))
    assert hour_of_week(at, "Europe/Berlin") == 64  # CET, +01:00
    assert hour_of_week(at, "Asia/Kolkata") == 68  # 20:30, +05:30
    assert hour_of_week(at, "America/St_Johns") == 59  # 11:30, -03:30
    summer = to_ms(datetime(2026, 7, 1, 15, 0, tzinfo=UTC))  # a Wednesday, CEST +02:00
    assert hour_of_week(summer, "Europe/Berlin") == 65


def test_rhythm_is_binned_in_the_zone_known_when_applied() -> None:
    oracle = Oracle(CONFIG)
    oracle.apply(view(T0))  # no zone yet: the default (UTC), counted
    assert set(oracle.profiles(to_ms(T0))["ann"].rhythm) == {"10"}
    oracle.apply(traits(T0, timezone="Asia/Kathmandu"))  # the first zone: the view moves
    oracle.apply(view(T0 + timedelta(minutes=20)))  # 10:50 UTC = 16:35 in Nepal (+05:45)
    assert oracle.tz_assumed == 1
    assert set(oracle.profiles(to_ms(T0))["ann"].rhythm) == {"16"}
    oracle.apply(traits(T0 + DAY, timezone="Europe/Berlin"))  # a later change moves nothing
    assert set(oracle.profiles(to_ms(T0))["ann"].rhythm) == {"16"}


def test_to_ms_rounds_down() -> None:
    assert to_ms(datetime(1970, 1, 1, 0, 0, 0, 1999, tzinfo=UTC)) == 1
    assert to_ms(T0 + timedelta(microseconds=999)) == to_ms(T0)


def test_search_normalization() -> None:
    assert normalize_query("  Red\t  Running\nSHOES ", 64) == "red running shoes"
    assert normalize_query("x" * 100, 64) == "x" * 64


# --- acceptance ---------------------------------------------------------------


def test_duplicates_change_nothing() -> None:
    first = view(T0, event_id="dup")
    oracle = Oracle(CONFIG)
    assert oracle.apply(first) is Outcome.APPLIED
    assert oracle.apply(first) is Outcome.DUPLICATE
    assert oracle.apply(view(T0 + DAY, event_id="dup")) is Outcome.DUPLICATE
    profile = oracle.profiles(to_ms(T0))["ann"]
    assert profile.fields["n"] == 1
    assert profile.tastes == {"c:shoes": 1.0}
    assert oracle.outcomes == {Outcome.APPLIED: 1, Outcome.DUPLICATE: 2}


def test_duplicate_ids_are_per_customer() -> None:
    oracle = Oracle(CONFIG)
    assert oracle.apply(view(T0, event_id="same")) is Outcome.APPLIED
    assert oracle.apply(view(T0, event_id="same", customer_id="bob")) is Outcome.APPLIED


def test_too_late_relative_to_the_customers_last_seen() -> None:
    oracle = Oracle(CONFIG)
    oracle.apply(view(T0))
    boundary = T0 - timedelta(milliseconds=CONFIG.allowed_lateness_ms)
    assert oracle.apply(view(boundary)) is Outcome.APPLIED
    assert oracle.apply(view(boundary - timedelta(milliseconds=1))) is Outcome.LATE
    assert oracle.apply(view(T0 - 2 * DAY, customer_id="bob")) is Outcome.APPLIED
    # an id is forgotten once its time is below the horizon: its copy is late, not duplicate
    early = view(T0 + timedelta(hours=1), event_id="old")
    assert oracle.apply(early) is Outcome.APPLIED
    assert oracle.apply(view(T0 + 3 * DAY)) is Outcome.APPLIED
    assert oracle.apply(early) is Outcome.LATE
    assert oracle.profiles(to_ms(T0))["ann"].fields["n"] == 4


def test_an_order_redelivered_beyond_the_window_is_a_duplicate_not_late() -> None:
    oracle = Oracle(CONFIG)
    order = purchase(T0, [("sku-1", "shoes", 1, 10.0)], order="o-1", total=10.0)
    assert oracle.apply(order) is Outcome.APPLIED
    assert oracle.apply(view(T0 + 7 * DAY)) is Outcome.APPLIED
    assert oracle.apply(order) is Outcome.DUPLICATE
    assert oracle.apply(view(T0)) is Outcome.LATE, "a new event that old is late"
    new_order = purchase(T0, [("sku-1", "shoes", 1, 10.0)], order="o-2", total=10.0)
    assert oracle.apply(new_order) is Outcome.APPLIED, "an order's id is kept: exact at any age"
    assert oracle.profiles(to_ms(T0 + 7 * DAY))["ann"].fields["n:purchase"] == 2


def test_device_only_sensor_events_follow_the_registering_traits() -> None:
    reading = Location(
        type="location",
        event_id=eid(),
        event_time=T0 + timedelta(minutes=5),
        device_id="phone-1",
        lat=57.64911,
        lon=10.40744,
        accuracy_m=5,
    )
    oracle = Oracle(CONFIG)
    assert oracle.apply(reading) is Outcome.PARKED
    assert oracle.apply(reading) is Outcome.PARKED  # redelivered while it waits
    assert oracle.outcomes[Outcome.PARKED] == 1
    assert oracle.apply(traits(T0, device_ids=["phone-1"])) is Outcome.APPLIED
    ambient = Ambient(
        type="ambient",
        event_id=eid(),
        event_time=T0 + timedelta(minutes=1),
        device_id="phone-1",
        temperature_c=21.26,
        weather="rain",
    )
    assert oracle.apply(ambient) is Outcome.APPLIED
    fields = oracle.profiles(to_ms(T0))["ann"].fields
    assert fields["n"] == 3
    assert fields["n:ambient"] == 1
    assert fields["geo"] == "u4pruyd"  # the early reading waited and was applied
    assert fields["weather"] == "rain"
    assert fields["temperature_c"] == 21.3
    # once applied, the reading redelivered is a duplicate
    assert oracle.apply(reading) is Outcome.DUPLICATE
    assert oracle.expire() == 0


def test_a_reading_whose_device_is_never_registered_expires_as_unknown() -> None:
    reading = Ambient(
        type="ambient",
        event_id=eid(),
        event_time=T0,
        device_id="lost-1",
        temperature_c=3.0,
        weather="snow",
    )
    oracle = Oracle(CONFIG)
    assert oracle.apply(reading) is Outcome.PARKED
    assert (oracle.expire(), oracle.outcomes[Outcome.UNKNOWN_DEVICE]) == (1, 1)
    assert oracle.profiles(to_ms(T0)) == {}


def test_a_sensor_event_naming_its_customer_needs_no_device() -> None:
    near = Proximity(
        type="proximity",
        event_id=eid(),
        event_time=T0,
        customer_id="ann",
        device_id="unknown",
        store_id="store-1",
        distance_m=12.5,
    )
    fields = one([near]).fields
    assert (fields["near_store"], fields["store_distance_m"]) == ("store-1", 12.5)


# --- stored fields --------------------------------------------------------------


def test_counts_times_and_last_writer_wins_by_event_time() -> None:
    newer = traits(T0 + DAY, timezone="Europe/Berlin", email="Ann@Example.com")
    older = traits(T0, timezone="Asia/Tokyo", birth_year=1990, phone="+49 30 1")
    consent_on = Consent(
        type="consent", event_id=eid(), event_time=T0 + DAY, customer_id="ann",
        channel="email", opted_in=True,
    )  # fmt: skip
    consent_off = Consent(
        type="consent", event_id=eid(), event_time=T0, customer_id="ann",
        channel="email", opted_in=False,
    )  # fmt: skip
    page = PageView(type="page_view", event_id=eid(), event_time=T0, customer_id="ann", path="/")
    profile = one([newer, consent_on, older, consent_off, page])
    f = profile.fields
    assert f["n"] == 5
    assert (f["n:traits"], f["n:consent"], f["n:page_view"]) == (2, 2, 1)
    assert (f["first_seen"], f["last_seen"]) == (to_ms(T0), to_ms(T0 + DAY))
    assert f["last:page_view"] == to_ms(T0)
    assert "last:traits" not in f  # identity and sensor fields carry their own stamps
    assert f["timezone"] == "Europe/Berlin"  # the older one arrived later, and lost
    assert f["birth_year"] == 1990  # only the older one carried it
    assert f["h:email"] == pseudonymize(b"test-secret", "email", "ann@example.com")
    assert f["h:phone"] == pseudonymize(b"test-secret", "phone", "+49301")
    assert f["consent:email"] == "1"
    assert "first:purchase" not in f
    assert profile.ties == {}


def test_equal_times_keep_every_candidate() -> None:
    profile = one([traits(T0, gender="female"), traits(T0, gender="male")])
    assert profile.ties == {"gender": ("female", "male")}
    stored = ExpectedProfile("ann", profile.at_ms, fields=dict(profile.fields))
    stored.fields["gender"] = "male"
    stored.tastes, stored.rhythm = profile.tastes, profile.rhythm
    assert diff(profile, stored) == []
    stored.fields["gender"] = "diverse"
    assert diff(profile, stored) == ["ann p.gender: expected 'female' or 'male', stored 'diverse'"]


def test_money_in_base_currency() -> None:
    p1 = purchase(T0, [("a", "shoes", 2, 10.0), ("b", "bags", 1, 30.0)], total=50.0)
    p2 = purchase(T0 + DAY, [("c", "shoes", 3, 4.0)], order="o2", total=12.0, currency="USD")
    p3 = purchase(T0 + 2 * DAY, [("d", "toys", 1, 7.0)], order="o3", total=7.0, currency="JPY")
    f = one([p2, p1, p3]).fields
    assert (f["n:purchase"], f["first:purchase"], f["last:purchase"]) == (
        3, to_ms(T0), to_ms(T0 + 2 * DAY),
    )  # fmt: skip
    assert (f["spend:EUR"], f["spend:USD"], f["spend:JPY"]) == (5000, 1200, 7), "minor units"
    assert (f["units:EUR"], f["units:USD"], f["units:JPY"]) == (3, 3, 1)
    assert (f["units_value:EUR"], f["units_value:USD"]) == (5000, 1200)
    d = derive(one([p2, p1, p3]), to_ms(T0 + 2 * DAY), CONFIG)
    assert d.monetary == pytest.approx(50.0 + 12.0 * 0.5)  # JPY has no rate: adds nothing
    # JPY has no rate: its units count in no base average either
    assert d.avg_unit_price == pytest.approx((2 * 10 + 30 + 3 * 4 * 0.5) / 6)


# --- decayed sums -----------------------------------------------------------------


def test_tastes_and_rhythm_are_decayed_sums_at_t() -> None:
    events: list[Event] = [
        Opened(type="opened", event_id=eid(), event_time=T0, customer_id="ann", decision_id="d"),
        Clicked(type="clicked", event_id=eid(), event_time=T0, customer_id="ann", decision_id="d"),
        Delivered(
            type="delivered", event_id=eid(), event_time=T0, customer_id="ann", decision_id="d"
        ),
        traits(T0, timezone="Europe/Berlin"),
        view(T0, brand="acme"),
        add(T0 + 7 * DAY),
        purchase(T0 + 14 * DAY, [("a", "shoes", 4, 1.0), ("b", "bags", 1, 1.0)]),
    ]
    profile = one(events, at=T0 + 14 * DAY)
    # half-life 7 days: weights 1, 3, 5 at ages 14, 7, 0 days (quantity does not count)
    assert profile.tastes == pytest.approx(
        {"c:shoes": 0.25 + 1.5 + 5.0, "b:acme": 0.25, "c:bags": 5.0}
    )
    # half-life 28 days: opened, clicked at 14 days, before the zone was known, moved to
    # it once known; Berlin (CET, +01:00) at 11:00 like the view at 14 days, the add at 7,
    # the purchase now
    monday_11 = 3 * 2**-0.5 + 2**-0.25 + 1.0
    assert profile.rhythm == pytest.approx({"11": monday_11})


def test_brands_of_carts_and_purchase_lines_count_too() -> None:
    line = LineItem(item_id="a", category="bags", quantity=2, unit_price=1.0, brand="acme")
    bought = purchase(T0, [("x", "x", 1, 1.0)])
    bought = bought.model_copy(update={"items": [line, line.model_copy(update={"brand": None})]})
    events: list[Event] = [add(T0, brand="acme"), bought]
    assert one(events, at=T0).tastes == {"c:shoes": 3.0, "b:acme": 3.0 + 5.0, "c:bags": 10.0}


def test_evaluation_time_only_scales() -> None:
    early = one([view(T0)], at=T0).tastes["c:shoes"]
    later = one([view(T0)], at=T0 + 3 * DAY).tastes["c:shoes"]
    assert early == 1.0
    assert later == pytest.approx(2 ** (-3 / 7))


def test_stored_decayed_hash_is_read_relative_to_its_ref() -> None:
    ref, at = to_ms(T0), to_ms(T0 + 7 * DAY)
    raw = [ref, {"c:shoes": 8, "b:x": 2.5}]  # the profile document's [ref, sums]
    assert _decayed(raw, at, 7 * MS_PER_DAY, "tastes") == {"c:shoes": 4.0, "b:x": 1.25}
    assert _decayed([None, {}], at, 7 * MS_PER_DAY, "tastes") == {}


# --- cart, recent views, searches --------------------------------------------------


def test_cart_latest_add_against_latest_removal_and_purchase() -> None:
    t = to_ms(T0)
    events: list[Event] = [
        # removal processed before the add it follows in event time: item 1 stays out
        remove(T0 + timedelta(minutes=2), "sku-1"),
        add(T0 + timedelta(minutes=1), "sku-1"),
        # a removal older than the add (processed after it) does not take it out
        add(T0 + timedelta(minutes=10), "sku-2", event_id="e-sku2", price=5.5, quantity=2),
        remove(T0 + timedelta(minutes=7), "sku-2"),
        # the latest add wins, whatever the processing order
        add(T0 + timedelta(minutes=9), "sku-3", event_id="late-add", price=7.0),
        add(T0 + timedelta(minutes=4), "sku-3", event_id="early-add", price=6.0),
        # bought: added before the purchase -> gone; re-added after it -> back
        add(T0 + timedelta(minutes=5), "sku-4"),
        add(T0 + timedelta(minutes=8), "sku-5", event_id="after"),
        purchase(T0 + timedelta(minutes=6), [("sku-4", "shoes", 1, 20.0)]),
        add(T0 + timedelta(minutes=7), "sku-4", event_id="re-add"),
    ]
    cart = one(events).cart
    minute = 60_000
    assert cart == {
        "sku-2": CartLine(t + 10 * minute, "shoes", 5.5, 2, "e-sku2"),
        "sku-3": CartLine(t + 9 * minute, "shoes", 7.0, 1, "late-add"),
        "sku-4": CartLine(t + 7 * minute, "shoes", 20.0, 1, "re-add"),
        "sku-5": CartLine(t + 8 * minute, "shoes", 20.0, 1, "after"),
    }


def test_stored_cart_is_filtered_by_the_visibility_rule() -> None:
    raw: dict[str, object] = {  # the profile document's cart lines
        "a": [100, "x", 1.5, 1, "e1", 0],
        "b": [100, "x", 1.5, 1, "e2", 100],
        "c": [0, "", 0, 0, "", 300],
        "d": [150, "x", 1.5, 1, "e3", 0],
        "e": [250, "x", 1.5, 3, "e4", 200],
    }
    assert _cart(raw, last_purchase=150) == {"e": CartLine(250, "x", 1.5, 3, "e4")}
    assert set(_cart(raw, last_purchase=None)) == {"a", "d", "e"}


def test_recently_viewed_keeps_the_latest_per_item_top_n() -> None:
    config = replace(CONFIG, recent_views=2)
    events: list[Event] = [
        view(T0 + timedelta(minutes=5), "a"),
        view(T0 + timedelta(minutes=1), "a"),
        view(T0 + timedelta(minutes=3), "b"),
        view(T0 + timedelta(minutes=4), "c"),
        view(T0 + timedelta(minutes=2), "d"),
    ]
    t, minute = to_ms(T0), 60_000
    assert one(events, config=config).recent_views == {"a": t + 5 * minute, "c": t + 4 * minute}


def test_the_wishlist_keeps_each_items_latest_event_top_n() -> None:
    """Per item the latest add or removal (a removal wins a tie); the cap counts removals;
    an add is a taste of weight ``w_wishlist``."""
    config = replace(CONFIG, wishlist_size=2)
    minute, t = 60_000, to_ms(T0)

    def wish(at: int, item: str, on: bool = True) -> Event:
        fields: dict[str, Any] = {"category": "bags"} if on else {}
        return EVENT_ADAPTERS[Stream.CLICKSTREAM].validate_python(
            {"type": "add_to_wishlist" if on else "remove_from_wishlist", "event_id": eid(),
             "customer_id": "ann", "event_time": T0 + timedelta(minutes=at), "item_id": item,
             **fields}
        )  # fmt: skip

    events = [wish(5, "a", False), wish(1, "a"), wish(5, "a"), wish(3, "b"), wish(2, "c")]
    out = one(events, config=config)
    assert out.wishlist == {"a": t + 5 * minute, "b": t + 3 * minute}
    assert out.wished == {"b"}
    assert out.tastes["c:bags"] > 0


def test_recent_searches_normalized_top_n_with_ties_at_the_cut() -> None:
    config = replace(CONFIG, recent_searches=2)

    def search(at: datetime, query: str) -> Search:
        return Search(type="search", event_id=eid(), event_time=at, customer_id="ann", query=query)

    events: list[Event] = [
        search(T0 + timedelta(minutes=3), "Red  Shoes"),
        search(T0 + timedelta(minutes=1), "red shoes"),
        search(T0 + timedelta(minutes=2), "bags"),
        search(T0 + timedelta(minutes=2), "hats"),
        search(T0, "old"),
    ]
    t, minute = to_ms(T0), 60_000
    profile = one(events, config=config)
    assert profile.recent_searches == {
        "red shoes": t + 3 * minute,
        "bags": t + 2 * minute,
        "hats": t + 2 * minute,
    }
    ok = {"red shoes": t + 3 * minute, "hats": t + 2 * minute}
    assert diff_top("ann", "searches", profile.recent_searches, ok, 2) == []
    short = {"red shoes": t + 3 * minute}
    assert diff_top("ann", "searches", profile.recent_searches, short, 2) == [
        "ann searches: expected 2 members, stored 1"
    ]
    wrong = {"bags": t + 2 * minute, "hats": t + 2 * minute}
    assert diff_top("ann", "searches", profile.recent_searches, wrong, 2) == [
        f"ann searches['red shoes']: expected {t + 3 * minute}, stored <absent>"
    ]


# --- basket -----------------------------------------------------------------------


def test_basket_pairs_once_per_order() -> None:
    oracle = Oracle(CONFIG)
    lines = [("a", "x", 1, 1.0), ("b", "x", 2, 1.0), ("a", "x", 1, 1.0), ("c", "y", 1, 1.0)]
    oracle.apply(purchase(T0, lines, order="o1"))
    oracle.apply(purchase(T0, lines, order="o1"))  # another event of the same order
    oracle.apply(purchase(T0, [("a", "x", 1, 1.0), ("b", "x", 1, 1.0)], order="o2", customer="bob"))
    oracle.apply(purchase(T0, [("z", "x", 1, 1.0)], order="o3"))  # one item: no pair
    assert oracle.basket.items == {
        "a": {"b": 2, "c": 1},
        "b": {"a": 2, "c": 1},
        "c": {"a": 1, "b": 1},
        "z": {},
    }
    assert oracle.basket.categories == {"x": {"y": 1}, "y": {"x": 1}}
    stored = Basket(items={"a": {"b": 2, "c": 1}, "b": {"a": 2}, "c": {"a": 1, "b": 1}})
    stored.categories = {"x": {"y": 1}, "y": {"x": 1}}
    assert diff_basket(oracle.basket, stored) == [
        "items/b total: expected 3, stored 2",
        "items/b/c: expected 1, stored 0",
    ]


def test_basket_rows_of_large_orders_compare_by_total_draws() -> None:
    """Orders beyond the exact size are sampled: each member draws 32 partners of 1."""
    oracle = Oracle(CONFIG)
    lines = [(f"i{n}", "x", 1, 1.0) for n in range(BASKET_EXACT_UP_TO + 1)]
    oracle.apply(purchase(T0, lines, order="big"))
    assert oracle.basket.sampled == {f"items/i{n}" for n in range(BASKET_EXACT_UP_TO + 1)}
    assert oracle.basket.drawn["items/i0"] == 32
    stored = Basket(items={f"i{n}": {"i1" if n == 0 else "i0": 32.0} for n in range(34)})
    assert diff_basket(oracle.basket, stored) == []
    stored.items["i0"] = {"i1": 31.0}
    assert diff_basket(oracle.basket, stored) == ["items/i0 total: expected 32, stored 31"]


def test_basket_snapshot_difference() -> None:
    before = Basket(items={"a": {"b": 3}}, categories={"x": {"y": 1}})
    after = Basket(items={"a": {"b": 5, "c": 1}}, categories={"x": {"y": 1}})
    delta = subtract(after, before)
    assert (delta.items, delta.categories) == ({"a": {"b": 2, "c": 1}}, {})


# --- derived ----------------------------------------------------------------------


def stored(**fields: int | float | str) -> ExpectedProfile:
    return ExpectedProfile("ann", 0, fields=dict(fields))


NOW = to_ms(T0)


def ago(days: float) -> int:
    return NOW - round(days * MS_PER_DAY)


@pytest.mark.parametrize(
    ("since_last", "expected"),
    [(30, "active"), (30.001, "at_risk"), (60, "at_risk"), (120, "lapsed"), (121, "churned")],
)
def test_lifecycle_boundaries_scale_with_the_purchase_interval(
    since_last: float, expected: str
) -> None:
    # 3 orders, 40 days apart -> interval 20 days; thresholds 30 / 60 / 120 days
    p = stored(
        **{
            "n:purchase": 3,
            "first:purchase": ago(since_last + 40),
            "last:purchase": ago(since_last),
            "first_seen": ago(400),
            "last_seen": ago(since_last),
        }
    )
    d = derive(p, NOW, CONFIG)
    assert d.interval_days == pytest.approx(20.0)
    assert d.lifecycle == expected
    assert d.next_purchase_due == pytest.approx(ago(since_last) + 20 * MS_PER_DAY)


def test_new_customers_and_customers_without_purchases() -> None:
    assert derive(stored(first_seen=ago(30), last_seen=ago(30)), NOW, CONFIG).lifecycle == "new"
    late = derive(stored(first_seen=ago(30.0001), last_seen=ago(45)), NOW, CONFIG)
    assert (late.lifecycle, late.tier, late.interval_days) == ("active", "regular", 30.0)
    assert (late.recency_days, late.next_purchase_due, late.aov) == (None, None, None)
    assert derive(stored(first_seen=ago(100), last_seen=ago(46)), NOW, CONFIG).lifecycle == (
        "at_risk"
    )
    one_order = stored(
        **{"n:purchase": 1, "first:purchase": ago(40), "last:purchase": ago(40),
           "first_seen": ago(40), "last_seen": ago(1), "spend:EUR": 1000}
    )  # fmt: skip
    d = derive(one_order, NOW, CONFIG)
    assert (d.lifecycle, d.tier, d.interval_days) == ("active", "regular", 30.0)
    assert d.recency_days == pytest.approx(40.0)


@pytest.mark.parametrize(
    ("recency", "orders", "value", "tier", "scores"),
    [
        (7, 10, 1000.0, "vip", (5, 5, 5)),
        (30, 5, 500.0, "vip", (4, 4, 4)),
        (30, 5, 499.99, "loyal", (4, 4, 3)),
        (90, 3, 0.0, "loyal", (3, 3, 1)),
        (90.5, 3, 0.0, "regular", (2, 3, 1)),
        (181, 2, 50.0, "regular", (1, 2, 2)),
        (1, 1, 49.0, "new", (5, 1, 1)),
    ],
)
def test_rfm_scores_and_tier(
    recency: float, orders: int, value: float, tier: str, scores: tuple[int, int, int]
) -> None:
    p = stored(
        **{
            "n:purchase": orders,
            "first:purchase": ago(recency + 10),
            "last:purchase": ago(recency),
            "first_seen": ago(recency + 10),
            "last_seen": ago(recency),
            "spend:EUR": round(value * 100),
        }
    )
    d = derive(p, NOW, CONFIG)
    assert (d.r, d.f, d.m) == scores
    assert d.tier == tier
    assert (d.orders, d.frequency) == (orders, orders)
    assert d.monetary == pytest.approx(value)


@pytest.mark.parametrize(
    ("units_value", "band"), [(29.99, "budget"), (30.0, "mid"), (99.99, "mid"), (100.0, "premium")]
)
def test_price_band(units_value: float, band: str) -> None:
    lines = {"units:EUR": 2, "units_value:EUR": round(2 * units_value * 100)}
    d = derive(stored(**lines, first_seen=ago(1)), NOW, CONFIG)
    assert d.avg_unit_price == pytest.approx(units_value)
    assert d.price_band == band


def test_age_tastes_and_local_rhythm() -> None:
    p = ExpectedProfile(
        "ann",
        ago(7),
        fields={"birth_year": "1990", "timezone": "Asia/Kolkata", "first_seen": ago(7)},
        tastes={"c:shoes": 2.0, "c:bags": 4.0, "b:acme": 8.0},
        rhythm={"5": 1.0, "4": 2.0},  # binned local when applied
    )
    d = derive(p, NOW, CONFIG)
    assert d.age == 2026 - 1990
    assert d.tastes == pytest.approx({"c:shoes": 1.0, "c:bags": 2.0, "b:acme": 4.0})
    assert d.top_categories == ["bags", "shoes"]
    factor = 2 ** (-7 / 28)
    assert d.rhythm_local == pytest.approx({5: 1.0 * factor, 4: 2.0 * factor})


# --- comparison and config ----------------------------------------------------------


def test_diff_reports_each_kind_of_mismatch() -> None:
    expected = one([view(T0, brand="acme", event_id="v1"), add(T0, event_id="a1")])
    actual = ExpectedProfile(
        "ann",
        expected.at_ms,
        fields={str(k): str(v) for k, v in expected.fields.items()},
        tastes=dict(expected.tastes),
        rhythm=dict(expected.rhythm),
        cart=dict(expected.cart),
        recent_views=dict(expected.recent_views),
    )
    assert diff(expected, actual) == []
    actual.fields["n:page_view"] = "0"  # an absent count is 0
    actual.tastes["c:shoes"] *= 1 + 1e-7
    assert diff(expected, actual) == []
    actual.fields["n"] = "3"
    actual.tastes["c:shoes"] *= 1.001
    actual.rhythm.clear()
    actual.cart["sku-9"] = CartLine(1, "x", 1.0, 1, "e")
    actual.recent_views["sku-1"] += 1
    problems = diff(expected, actual)
    assert [p.split(":")[0] for p in problems] == [
        "ann p.n",
        "ann tastes.c",
        "ann rhythm.10",
        "ann cart[sku-9]",
        "ann viewed['sku-1']",
    ]
    assert diff(expected, None) == ["ann: no profile stored (expected n=2)"]


def test_config_from_settings_follows_the_engine() -> None:
    settings = Settings(
        redis={"key_prefix": "tx"},
        profiles={
            "allowed_lateness": timedelta(hours=2),
            "taste_half_life": timedelta(days=3),
            "lifecycle_factors": (1.0, 2.0, 4.0),
            "fx_to_base": {"EUR": 1.0, "CHF": 1.05},
        },
    )
    config = OracleConfig.from_settings(settings)
    assert config.key_prefix == "tx"
    assert config.allowed_lateness_ms == 2 * 3_600_000
    assert config.taste_half_life_ms == 3 * MS_PER_DAY
    assert (config.active_factor, config.at_risk_factor, config.lapsed_factor) == (1.0, 2.0, 4.0)
    assert dict(config.fx_to_base) == {"EUR": 1.0, "CHF": 1.05}
    assert config.secret == settings.secrets.pseudonym_secret.get_secret_value().encode()


# --- anonymous visitors (docs/identity.md) -------------------------------------


def _visitor(at: datetime, *, customer: str | None = None, **kw: Any) -> PageView:
    return PageView(
        type="page_view",
        event_id=kw.pop("event_id", eid()),
        event_time=at,
        customer_id=customer,
        anonymous_id=kw.pop("anonymous_id", "cookie-1"),
        path="/",
    )


def test_a_visitor_keeps_a_profile_of_their_own_until_linked() -> None:
    oracle = Oracle(CONFIG)
    oracle.apply(_visitor(T0))
    visitor = "~" + pseudonymize(CONFIG.secret, "anon", "cookie-1")
    assert set(oracle.profiles(to_ms(T0))) == {visitor}


def test_the_first_link_moves_the_history_and_later_visits_follow_it() -> None:
    oracle = Oracle(CONFIG)
    before = _visitor(T0, event_id="v1")
    for event in (
        before,
        _visitor(T0 + timedelta(minutes=1), customer="ann"),  # a login: links cookie-1 to ann
        _visitor(T0 + timedelta(minutes=2)),  # a visit after the login: ann's
        _visitor(T0 + timedelta(minutes=3), customer="bob"),  # the same cookie: still ann's
        _visitor(T0 + timedelta(minutes=4)),
    ):
        assert oracle.apply(event) is Outcome.APPLIED
    assert oracle.apply(before) is Outcome.DUPLICATE, "the visitor's ids moved with the history"
    profiles = oracle.profiles(to_ms(T0 + DAY))
    assert set(profiles) == {"ann", "bob"}
    assert profiles["ann"].fields["n"] == 4
    assert profiles["ann"].fields["first_seen"] == to_ms(T0)
    assert profiles["bob"].fields["n"] == 1
