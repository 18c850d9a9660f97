"""Merging an anonymous visitor's profile into a customer's (``profiles.merge``) is the
profile of both event sets: whatever the split, the order of events and the moment of
the merge (docs/identity.md). Sums and decayed sums compare within 1e-8 relative; the
cart compares its visible lines (docs/profile.md)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.contracts import load_corpus
from stream_app.events.decode import Decoder
from stream_app.events.registry import EVENT_ADAPTERS
from stream_app.profiles import ops
from stream_app.profiles.fold import FoldConfig, fold
from stream_app.profiles.merge import merge, merge_fields
from stream_app.profiles.presence import PRESENCE_FIELDS
from stream_app.profiles.state import ProfileState, StateLimits, apply_updates
from tests.unit.fixtures import LIMITS as LIMITS_IN
from tests.unit.fixtures import NOW, event

CONFIG = FoldConfig(pseudonym_secret=b"k", cart_abandon_delay=timedelta(minutes=30))
#: Small caps, so the recent lists and the wishlist are cut; lateness never refuses here.
LIMITS = StateLimits(10**13, 7 * 86_400_000, 28 * 86_400_000, 3, 2, 2)
#: The corpus's event times are an hour before this.
CORPUS_NOW = NOW
AT = int(NOW.timestamp() * 1000) + 86_400_000
ITEMS = ("sku-1", "sku-2", "sku-3", "sku-4")


def _raw(kind: int, item: int, n: int) -> tuple[Any, dict[str, Any]]:
    sku, category = ITEMS[item], f"cat-{item % 2}"
    at = NOW - timedelta(minutes=n * 7 + 1)
    common: dict[str, Any] = {"at": at, "event_id": f"e-{n}"}
    match kind:
        case 0:
            return "clickstream", event(
                "product_view",
                item_id=sku,
                category=category,
                price=9.5 + item,
                brand=f"b{item}",
                **common,
            )
        case 1:
            return "clickstream", event(
                "add_to_cart",
                item_id=sku,
                category=category,
                price=9.5,
                quantity=1 + item,
                **common,
            )
        case 2:
            return "clickstream", event("remove_from_cart", item_id=sku, **common)
        case 3:
            return "clickstream", event("search", query=f"Red {sku}", **common)
        case 4:
            line = {"item_id": sku, "category": category, "quantity": 1, "unit_price": 10.1}
            return "purchase", event(
                "purchase",
                order_id=f"o-{n}",
                items=[line],
                total=10.1 + item,
                currency="EUR",
                **common,
            )
        case 5:
            return "identity", event(
                "traits",
                # the rhythm is binned in the zone known when an event is applied (profile.md):
                # the default's own zone keeps it free of the order this test shuffles
                timezone="UTC",
                gender="female" if item % 2 else "male",
                birth_year=1980 + item,
                **common,
            )
        case 7:  # a return (whole order, or one line) of an order that may come later
            lines = [{"item_id": sku, "category": category, "quantity": 1, "unit_price": 10.1}]
            return "purchase", event(
                "return",
                return_id=f"r-{n}",
                order_id=f"o-{max(n - 1 - item, 0)}",
                items=lines if item % 2 else None,
                amount=5.0,
                currency="EUR",
                **common,
            )
        case 8:
            return "clickstream", event(
                "add_to_wishlist", item_id=sku, category=category, brand=f"b{item}", **common
            )
        case 9:
            return "clickstream", event("remove_from_wishlist", item_id=sku, **common)
    return "clickstream", event("page_view", path=f"/p/{item}", **common)


def _update(kind: int, item: int, n: int) -> ops.ProfileUpdate:
    stream, raw = _raw(kind, item, n)
    adapter = next(a for s, a in EVENT_ADAPTERS.items() if s.value == stream)
    return fold(adapter.validate_python(raw), "c", CONFIG)


def _applied(state: ProfileState, updates: list[ops.ProfileUpdate]) -> ProfileState:
    apply_updates(state, updates, set(), LIMITS, AT)
    return state


def _same(a: ProfileState, b: ProfileState) -> None:
    skip = {"created_ms", *PRESENCE_FIELDS}  # presence: kept in arrival order
    fa = {k: v for k, v in a.fields.items() if k not in skip}
    fb = {k: v for k, v in b.fields.items() if k not in skip}
    assert fa.keys() == fb.keys()
    for name, value in fa.items():
        if isinstance(value, float):
            assert math.isclose(value, float(fb[name]), rel_tol=1e-8), name
        else:
            assert value == fb[name], name
    for mine, theirs, half in ((a.tastes, b.tastes, 7), (a.rhythm, b.rhythm, 28)):
        ta, tb = mine.at(AT, half * 86_400_000), theirs.at(AT, half * 86_400_000)
        assert ta.keys() == tb.keys()
        assert all(math.isclose(ta[k], tb[k], rel_tol=1e-8) for k in ta)
    assert _visible(a) == _visible(b)
    assert {k: v[0] for k, v in a.viewed.items()} == {k: v[0] for k, v in b.viewed.items()}
    assert a.searches == b.searches
    assert a.orders == b.orders
    assert a.wishlist == b.wishlist


def _visible(state: ProfileState) -> dict[str, list[Any]]:
    bought = int(state.fields.get("last:purchase", -1))
    return {
        item: line[:5]
        for item, line in state.cart.items()
        if int(line[0]) > int(line[5]) and int(line[0]) > bought
    }


EVENTS = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 3), st.integers(0, 2)), min_size=8, max_size=40
)


@settings(max_examples=300, deadline=None)
@given(EVENTS, st.randoms(use_true_random=False), st.integers(0, 30))
def test_merge_is_the_profile_of_both_event_sets(
    events: list[tuple[int, int, int]], rnd: Any, cut: int
) -> None:
    """Every event once, split between the customer (owner 0, and 2 after the merge) and
    the visitor (1), each side in its own random order: the same profile as all events
    folded into one, whichever side the merge keeps and whenever it happens."""
    updates = [(_update(k, i, n), owner) for n, (k, i, owner) in enumerate(events)]
    everything = [u for u, _ in updates]
    rnd.shuffle(everything)
    expected = _applied(ProfileState("c"), everything)

    before = [u for u, owner in updates if owner == 0]
    visitor = [u for u, owner in updates if owner == 1]
    after = [u for u, owner in updates if owner == 2]
    rnd.shuffle(before)
    rnd.shuffle(visitor)
    customer = _applied(ProfileState("c", version=4), before)
    anonymous = _applied(ProfileState("~a"), visitor)
    merged = _applied(merge(customer, anonymous, LIMITS), after)
    assert merged.customer_id == "c"
    assert merged.version == 4
    _same(merged, expected)
    _same(_applied(merge(anonymous, customer, LIMITS), after), expected)
    # Merging at another moment: part of the later events applied to the visitor first.
    early, late = after[: cut % (len(after) + 1)], after[cut % (len(after) + 1) :]
    anonymous_later = _applied(ProfileState("~a"), [*visitor, *early])
    _same(_applied(merge(customer, anonymous_later, LIMITS), late), expected)


def test_merging_an_empty_profile_changes_nothing() -> None:
    customer = _applied(ProfileState("c", version=2), [_update(k, k % 4, k) for k in range(7)])
    merged = merge(customer, ProfileState("~a"), LIMITS)
    _same(merged, customer)
    assert merged.fields == customer.fields
    assert merged.version == 2


def test_each_field_merges_as_its_op_applies() -> None:
    """Every field the fold writes for the corpus's valid events merges by the rule of
    the op that writes it (a new field of a new event type needs a rule in merge.py)."""
    for sample in load_corpus():
        if not sample.valid or sample.stream.value in ("catalog", "feedback", "sensor"):
            continue
        decoded = Decoder(LIMITS_IN, CORPUS_NOW).decode(sample.stream, orjson.dumps(sample.record))
        for _, parsed, _ in decoded.located:
            for op in fold(parsed, "c", CONFIG).ops:
                _check(op)


def _check(op: ops.ProfileOp) -> None:
    match op:
        case ops.Min(name, _):
            assert merge_fields({name: 5}, {name: 3})[name] == 3, name
        case ops.Max(name, _) | ops.Touch(_, _, str(name), _):
            assert merge_fields({name: 5}, {name: 3})[name] == 5, name
        case ops.Incr(name, _):
            assert merge_fields({name: 5}, {name: 3})[name] == 8, name
        case ops.OrderMark(order_id, _, _, _):
            bought = ProfileState("c", orders={order_id: [2, 0, 0]})
            undone = ProfileState("~a", {"last_seen": 1}, orders={order_id: [-1, 1, 1]})
            merged = merge(bought, undone, LIMITS)
            assert merged.orders[order_id] == [2, 1, 1], order_id
            assert merged.fields["returned_orders"] == 1, order_id
            assert merged.fields["returned_units"] == 2, order_id
        case ops.Wish(item, category, on, ms):
            theirs = {item: [ms, category, int(on)]}
            merged = merge(ProfileState("c"), ProfileState("~a", wishlist=theirs), LIMITS)
            assert merged.wishlist == theirs, item
            later = ProfileState("~a", wishlist={item: [ms + 1, "", 0]})
            assert merge(merged, later, LIMITS).wishlist[item] == [ms + 1, "", 0], item
        case ops.LastWrite(name, _, _):
            merged = merge_fields({name: "a", "@" + name: 5}, {name: "b", "@" + name: 3})
            assert merged[name] == "a", name


def test_recent_lists_keep_the_top_n_of_both_sides() -> None:
    """Searches and views spread over both profiles: the caps apply to the union."""
    mine = [_update(3, i, i) for i in (0, 2)] + [_update(0, i, 10 + i) for i in (0, 2)]
    theirs = [_update(3, i, 5 + i) for i in (1, 3)] + [_update(0, i, 20 + i) for i in (1, 3)]
    expected = _applied(ProfileState("c"), [*mine, *theirs])
    merged = merge(_applied(ProfileState("c"), mine), _applied(ProfileState("~a"), theirs), LIMITS)
    assert len(merged.searches) == LIMITS.recent_searches
    assert len(merged.viewed) == LIMITS.recent_views
    _same(merged, expected)
