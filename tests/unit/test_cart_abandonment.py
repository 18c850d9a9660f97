"""Cart abandonment as a trigger: when a cart counts as idle, and which cart it is."""

from __future__ import annotations

from datetime import timedelta

from stream_app.clock import from_ms, to_ms
from stream_app.decisions.campaigns import CartAbandonment
from stream_app.decisions.cart_abandonment import CartSnapshot, cart_abandonment
from stream_app.decisions.triggers import Hit, Wait
from stream_app.profiles.cart import CartLine
from tests.unit.fixtures import NOW

TRIGGER = CartAbandonment(idle=timedelta(minutes=30))
T0 = to_ms(NOW - timedelta(minutes=45))


def snapshot(
    *lines: CartLine, checkout: int | None = None, purchase: int | None = None
) -> CartSnapshot:
    return CartSnapshot("c-1", lines, checkout, purchase)


def line(item: str, at_ms: int, event_id: str = "e-1") -> CartLine:
    return CartLine(item, "shoes", 25.0, 1, event_id, at_ms)


def test_idle_cart_is_a_hit_with_its_items_and_why() -> None:
    hit = cart_abandonment(snapshot(line("a", T0), line("b", T0 + 1000, "e-2")), TRIGGER, NOW)
    assert isinstance(hit, Hit)
    assert [i.item_id for i in hit.items] == ["a", "b"]
    assert hit.key == "e-2"
    assert hit.at == from_ms(T0 + 1000)
    assert hit.category == "shoes"
    assert "cart of 2 items idle 44 min" in hit.reason


def test_same_cart_state_is_the_same_trigger() -> None:
    first = cart_abandonment(snapshot(line("a", T0)), TRIGGER, NOW)
    later = cart_abandonment(snapshot(line("a", T0)), TRIGGER, NOW + timedelta(minutes=5))
    other = cart_abandonment(snapshot(line("a", T0, "e-9")), TRIGGER, NOW)
    assert isinstance(first, Hit)
    assert isinstance(later, Hit)
    assert isinstance(other, Hit)
    assert first.key == later.key != other.key


def test_recent_addition_postpones_the_check() -> None:
    recent = to_ms(NOW - timedelta(minutes=10))
    outcome = cart_abandonment(snapshot(line("a", T0), line("b", recent)), TRIGGER, NOW)
    assert outcome == Wait(from_ms(recent) + timedelta(minutes=30))


def test_checkout_or_order_after_the_items_settles_it() -> None:
    assert cart_abandonment(snapshot(line("a", T0), checkout=T0 + 1), TRIGGER, NOW) == (
        "cart_settled"
    )
    assert cart_abandonment(snapshot(line("a", T0), purchase=T0 + 1), TRIGGER, NOW) == (
        "cart_settled"
    )
    assert cart_abandonment(snapshot(), TRIGGER, NOW) == "cart_empty"


def test_items_added_after_an_order_still_count() -> None:
    hit = cart_abandonment(
        snapshot(line("a", T0 - 5000), line("b", T0, "e-b"), purchase=T0 - 1), TRIGGER, NOW
    )
    assert isinstance(hit, Hit)
    assert [i.item_id for i in hit.items] == ["b"]
