"""Applying updates to a stored profile: once per event id, late events refused, and the
same profile whatever order the events arrive in (docs/profile.md)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.clock import to_ms
from stream_app.events.registry import EVENT_ADAPTERS, Stream
from stream_app.profiles import ops
from stream_app.profiles.derive import ValueRules, derive
from stream_app.profiles.fold import FoldConfig, fold
from stream_app.profiles.presence import PRESENCE_FIELDS
from stream_app.profiles.rhythm import local_hour_of_week
from stream_app.profiles.state import (
    Decayed,
    Outcome,
    ProfileState,
    StateLimits,
    apply_updates,
    wished,
)
from stream_app.storage.profiles import decode_state, encode_state
from tests.unit.fixtures import NOW, event

DAY_MS = 86_400_000
UTC_ZONE = ZoneInfo("UTC")
LIMITS = StateLimits(
    allowed_lateness_ms=DAY_MS,
    taste_half_life_ms=7 * DAY_MS,
    rhythm_half_life_ms=28 * DAY_MS,
    recent_views=3,
    recent_searches=2,
    wishlist_size=2,
)
T0 = to_ms(NOW)


def update(event_id: str, ms: int, *changes: object) -> ops.ProfileUpdate:
    return ops.ProfileUpdate("c-1", event_id, ms, tuple(changes))  # type: ignore[arg-type]


def applied(*updates: ops.ProfileUpdate) -> tuple[ProfileState, list[Outcome]]:
    state = ProfileState("c-1")
    outcomes = apply_updates(state, updates, set(), LIMITS, now_ms=T0)
    return state, outcomes


def test_touch_counts_the_event_and_stretches_its_times() -> None:
    state, _ = applied(
        update("e-1", T0, ops.Touch("n:search", T0, "last:search", rhythmic=True)),
        update("e-2", T0 - 9, ops.Touch("n:traits", T0 - 9)),
    )
    assert {k: state.fields[k] for k in ("n", "n:search", "n:traits")} == {
        "n": 2,
        "n:search": 1,
        "n:traits": 1,
    }
    assert (state.fields["first_seen"], state.fields["last_seen"]) == (T0 - 9, T0)
    assert state.fields["last:search"] == T0
    assert "last:traits" not in state.fields
    assert state.rhythm.sums == {str(local_hour_of_week(T0, UTC_ZONE)): 1.0}  # no zone: UTC


def test_the_first_event_creates_the_profile_and_a_repeated_id_changes_nothing() -> None:
    first = update("e-1", T0, ops.Incr("n"), ops.LastWrite("gender", "female", T0))
    state, outcomes = applied(first, first)
    assert outcomes == [Outcome.CREATED, Outcome.DUPLICATE]
    assert state.fields["n"] == 1
    assert state.fields["created_ms"] == T0


def test_ids_already_in_the_index_are_duplicates() -> None:
    state = ProfileState("c-1", {"n": 1, "last_seen": T0})
    outcomes = apply_updates(state, [update("seen", T0, ops.Incr("n"))], {"seen"}, LIMITS, T0)
    assert outcomes == [Outcome.DUPLICATE]
    assert state.fields["n"] == 1


def test_an_event_older_than_the_lateness_bound_is_refused() -> None:
    newest = update("e-1", T0, ops.Incr("n"), ops.Incr("spend:EUR", 100))
    newest = newest._replace(ops=(*newest.ops, *_seen(T0)))
    on_time = update("e-2", T0 - DAY_MS, ops.Incr("n"))
    too_late = update("e-3", T0 - DAY_MS - 1, ops.Incr("n"))
    state, outcomes = applied(newest, on_time, too_late)
    assert outcomes == [Outcome.CREATED, Outcome.APPLIED, Outcome.TOO_LATE]
    assert state.fields["n"] == 2


def test_an_id_already_applied_is_a_duplicate_however_late() -> None:
    """The caller's index decides duplicates first (orders' ids are kept for the
    profile's life): only an event it does not know can be too late."""
    state = ProfileState("c-1", {"n": 1, "last_seen": T0 + 7 * DAY_MS})
    again = update("order", T0, ops.Incr("n"))
    new = update("new", T0, ops.Incr("n"))
    outcomes = apply_updates(state, [again, new], {"order"}, LIMITS, T0)
    assert outcomes == [Outcome.DUPLICATE, Outcome.TOO_LATE]
    assert state.fields["n"] == 1


def _seen(ms: int) -> list[object]:
    return [ops.Min("first_seen", ms), ops.Max("last_seen", ms)]


def test_last_writer_wins_by_event_time_not_arrival() -> None:
    newer = update("e-1", T0, ops.LastWrite("timezone", "Europe/Berlin", T0))
    older = update("e-2", T0 - 5, ops.LastWrite("timezone", "Asia/Tokyo", T0 - 5))
    state, _ = applied(newer, older)
    assert state.fields["timezone"] == "Europe/Berlin"
    assert state.fields["@timezone"] == T0


def test_decayed_sums_are_relative_to_a_reference_and_rebased_before_overflow() -> None:
    sums = Decayed()
    sums.add("c:shoes", 2.0, 0, 1000)
    sums.add("c:shoes", 2.0, 1000, 1000)  # one half-life later: worth double then
    assert sums.at(1000, 1000) == {"c:shoes": pytest.approx(3.0)}
    far = 600 * 1000  # 2^600 would overflow a float: everything is rescaled first
    sums.add("c:toys", 1.0, far, 1000)
    assert sums.ref_ms == far
    assert sums.at(far, 1000) == {"c:shoes": pytest.approx(0.0), "c:toys": pytest.approx(1.0)}


def test_recent_sets_keep_the_newest_by_time_then_member() -> None:
    views = [
        update(f"v-{i}", T0 + ms, ops.Recent("views", item, T0 + ms, "shoes"))
        for i, (item, ms) in enumerate([("a", 1), ("b", 2), ("c", 3), ("a", 4), ("d", 0)])
    ]
    state, _ = applied(*views)
    assert state.viewed == {"a": [T0 + 4, "shoes"], "b": [T0 + 2, "shoes"], "c": [T0 + 3, "shoes"]}
    searches = [update(f"s-{q}", T0, ops.Recent("searches", q, T0)) for q in ("x", "z", "y")]
    state, _ = applied(*searches)
    assert set(state.searches) == {"y", "z"}  # equal times: the greater members stay


def test_cart_lines_their_tombstones_and_an_order_clearing_them() -> None:
    add = update("a", T0, ops.CartAdd("sku-1", "shoes", 9.5, 2, "a", T0))
    remove = update("r", T0 + 1, ops.CartRemove("sku-1", T0 + 1))
    re_add = update("a2", T0 + 2, ops.CartAdd("sku-1", "shoes", 9.0, 1, "a2", T0 + 2))
    state, _ = applied(add, remove, re_add)
    assert state.cart == {"sku-1": [T0 + 2, "shoes", 9.0, 1, "a2", T0 + 1]}
    order = update("o", T0 + 3, ops.CartClear(T0 + 3))
    late_add = update("a3", T0 + 4, ops.CartAdd("sku-2", "toys", 1.0, 1, "a3", T0 + 4))
    state, _ = applied(add, remove, re_add, order, late_add)
    assert list(state.cart) == ["sku-2"]


def test_the_wishlist_keeps_each_items_latest_event_and_the_newest_items() -> None:
    """Last writer wins per item by event time (a removal at the time of an add wins);
    removals are kept, so a late add cannot revive an item; the cap counts them too."""
    add = update("a", T0, ops.Wish("sku-1", "bags", True, T0))
    remove = update("r", T0 + 5, ops.Wish("sku-1", "", False, T0 + 5))
    late_add = update("a2", T0 + 1, ops.Wish("sku-1", "bags", True, T0 + 1))
    state, _ = applied(remove, late_add, add, add)
    assert state.wishlist == {"sku-1": [T0 + 5, "", 0]}
    assert wished(state.wishlist) == []
    tie = update("a3", T0 + 5, ops.Wish("sku-1", "bags", True, T0 + 5))
    assert applied(tie, remove)[0].wishlist == applied(remove, tie)[0].wishlist
    hats = update("h", T0 + 2, ops.Wish("sku-2", "hats", True, T0 + 2))
    toys = update("t", T0 + 3, ops.Wish("sku-3", "toys", True, T0 + 3))
    state, _ = applied(add, hats, toys, remove)
    assert set(state.wishlist) == {"sku-1", "sku-3"}  # sku-2 pushed out by the removal
    assert wished(state.wishlist) == ["sku-3"]
    state, _ = applied(add, hats, toys)
    assert wished(state.wishlist) == ["sku-3", "sku-2"]


def test_the_document_round_trips_what_a_batch_applied() -> None:
    state, _ = applied(
        update("e-1", T0, ops.Incr("n"), ops.DecayAdd("taste", "c:shoes", 1.0, T0)),
        update("e-2", T0, ops.CartAdd("sku-1", "shoes", 1.5, 1, "e-2", T0)),
        update("e-3", T0, ops.Wish("sku-2", "hats", True, T0)),
    )
    back = decode_state("c-1", encode_state(state, 4))
    assert (back.fields, back.tastes, back.cart, back.wishlist, back.version) == (
        state.fields,
        state.tastes,
        state.cart,
        state.wishlist,
        4,
    )


def _shown(state: ProfileState) -> list[tuple[object, ...]]:
    cart = derive(state, NOW, ValueRules()).cart
    return [(c.item_id, c.category, c.price, c.quantity, c.event_id, c.added_ms) for c in cart]


CONFIG = FoldConfig(pseudonym_secret=b"k", cart_abandon_delay=None)
KINDS = [
    (Stream.CLICKSTREAM, "product_view", {"item_id": "sku-1", "category": "shoes", "price": 9.0}),
    (Stream.CLICKSTREAM, "add_to_cart", {"item_id": "sku-2", "category": "toys", "price": 5.0}),
    (Stream.CLICKSTREAM, "remove_from_cart", {"item_id": "sku-2"}),
    (Stream.CLICKSTREAM, "search", {"query": "Red  Shoes"}),
    (Stream.CLICKSTREAM, "add_to_wishlist", {"item_id": "sku-4", "category": "bags"}),
    (Stream.CLICKSTREAM, "add_to_wishlist", {"item_id": "sku-5", "category": "hats"}),
    (Stream.CLICKSTREAM, "add_to_wishlist", {"item_id": "sku-6", "category": "toys"}),
    (Stream.CLICKSTREAM, "remove_from_wishlist", {"item_id": "sku-4"}),
    (Stream.IDENTITY, "consent", {"channel": "push", "opted_in": True}),
    (Stream.SENSOR, "proximity", {"store_id": "s-1", "distance_m": 12.0}),
    (
        Stream.PURCHASE,
        "purchase",
        {
            "order_id": "o-1",
            "total": 10.0,
            "currency": "EUR",
            "items": [{"item_id": "sku-3", "category": "bags", "quantity": 1, "unit_price": 10.0}],
        },
    ),
]


@settings(max_examples=60, deadline=None)
@given(
    picks=st.lists(
        st.tuples(st.integers(0, len(KINDS) - 1), st.integers(0, 3_600_000)),
        min_size=1,
        max_size=25,
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_profile_does_not_depend_on_the_order_of_arrival(
    picks: list[tuple[int, int]], seed: int
) -> None:
    updates = []
    for n, (kind, offset) in enumerate(picks):
        stream, type_, fields = KINDS[kind]
        raw = event(type_, at=NOW + timedelta(milliseconds=offset), event_id=f"e-{n}", **fields)
        updates.append(fold(EVENT_ADAPTERS[stream].validate_python(raw), "c-1", CONFIG))
    shuffled = list(updates)
    random.Random(seed).shuffle(shuffled)
    one, _ = applied(*updates)
    other, _ = applied(*shuffled)
    for name in ("created_ms", *PRESENCE_FIELDS):  # presence: kept in arrival order
        one.fields.pop(name, None)
        other.fields.pop(name, None)
    assert one.fields == pytest.approx(other.fields)
    # Stored lines may differ (an add at the very time of an order, a tombstone an order
    # cleared), what the cart shows may not.
    assert _shown(one) == _shown(other)
    assert one.viewed == other.viewed
    assert one.searches == other.searches
    assert one.wishlist == other.wishlist
    at = T0 + 3_600_000
    for mine, theirs, half_life in (
        (one.tastes, other.tastes, LIMITS.taste_half_life_ms),
        (one.rhythm, other.rhythm, LIMITS.rhythm_half_life_ms),
    ):
        assert mine.at(at, half_life) == pytest.approx(theirs.at(at, half_life))


def _rhythm_of(zone: str | None, *utc: str) -> tuple[dict[str, float], int]:
    """The rhythm buckets of one event at each UTC time, for a customer in ``zone``."""
    fields: dict[str, int | float | str] = {"timezone": zone} if zone else {}
    state = ProfileState("c-1", fields)
    moments = [to_ms(datetime.fromisoformat(at)) for at in utc]
    apply_updates(
        state,
        [
            update(f"e{i}", ms, ops.Touch("n:app_open", ms, rhythmic=True))
            for i, ms in enumerate(moments)
        ],
        set(),
        LIMITS,
        now_ms=T0,
    )
    return {k: round(v / v) for k, v in state.rhythm.sums.items()}, state.zone_assumed


def test_rhythm_is_binned_by_the_local_hour_at_the_events_own_instant() -> None:
    # Berlin, 2026: 01:30 UTC is 02:30 CET on Saturday 28 March, 03:30 CEST on Sunday 29
    # March (the skipped hour is never a bucket); in October the 02:00 hour is lived twice
    # (00:30 and 01:30 UTC on Sunday 25 October) and both land in it, exactly once each.
    spring, _ = _rhythm_of("Europe/Berlin", "2026-03-28T01:30Z", "2026-03-29T01:30Z")
    assert spring == {str(5 * 24 + 2): 1, str(6 * 24 + 3): 1}
    autumn, _ = _rhythm_of("Europe/Berlin", "2026-10-25T00:30Z", "2026-10-25T01:30Z")
    assert autumn == {str(6 * 24 + 2): 1}
    # +05:30 / -03:30 / +05:45: the minutes count (Monday 2 March 2026, 10:20 UTC).
    for zone, local_hour in (("Asia/Kolkata", 15), ("America/St_Johns", 6), ("Asia/Kathmandu", 16)):
        assert _rhythm_of(zone, "2026-03-02T10:20Z")[0] == {str(local_hour): 1}


def test_an_event_without_a_known_zone_uses_the_default_and_is_counted() -> None:
    assert _rhythm_of(None, "2026-03-02T10:20Z") == ({"10": 1}, 1)
    assert _rhythm_of("Asia/Kolkata", "2026-03-02T10:20Z")[1] == 0
    state = ProfileState("c-1")
    limits = replace(LIMITS, default_timezone="Asia/Kolkata")
    ms = to_ms(datetime(2026, 3, 2, 10, 20, tzinfo=UTC))
    apply_updates(state, [update("e", ms, ops.Touch("n:x", ms, rhythmic=True))], set(), limits, T0)
    assert (list(state.rhythm.sums), state.zone_assumed) == (["15"], 1)


def test_events_applied_before_the_first_zone_move_to_it_in_any_order() -> None:
    # Two visits (Monday 2 March 2026, 10:20 and 11:20 UTC) and the Kolkata trait after
    # them: whichever topic is applied first, the rhythm is Kolkata's 15:00 and 16:00.
    first, later = (to_ms(datetime(2026, 3, 2, h, 20, tzinfo=UTC)) for h in (10, 11))
    visits = [
        update(f"v{ms}", ms, ops.Touch("n:app_open", ms, rhythmic=True)) for ms in (first, later)
    ]
    zone = update("t", later + 1, ops.LastWrite("timezone", "Asia/Kolkata", later + 1))
    rhythms = []
    for order in ([*visits, zone], [zone, *visits], [visits[0], zone, visits[1]]):
        state = ProfileState("c-1")
        for one in order:  # each in its own pass, stored and read back between them
            apply_updates(state, [one], set(), LIMITS, now_ms=T0)
            state = decode_state("c-1", encode_state(state, 1))
        assert state.assumed == []
        rhythms.append({k: round(v, 9) for k, v in state.rhythm.at(later, 28 * DAY_MS).items()})
    assert rhythms[0] == rhythms[1] == rhythms[2] == {"15": round(2 ** (-1 / 672), 9), "16": 1.0}


def test_only_the_newest_events_without_a_zone_wait_for_it() -> None:
    limits = replace(LIMITS, zone_pending=1)
    state = ProfileState("c-1")
    moments = [to_ms(datetime(2026, 3, 2, h, 20, tzinfo=UTC)) for h in (10, 11)]
    for i, ms in enumerate(reversed(moments)):  # the newest first: the older one is not kept
        apply_updates(
            state, [update(f"e{i}", ms, ops.Touch("n:x", ms, rhythmic=True))], set(), limits, T0
        )
    assert state.assumed == [moments[1]]
    tz = ops.LastWrite("timezone", "Asia/Kolkata", moments[1])
    apply_updates(state, [update("t", moments[1], tz)], set(), limits, T0)
    assert sorted(state.rhythm.sums) == ["10", "16"]  # 10:20 stays UTC's, 11:20 is 16:50
