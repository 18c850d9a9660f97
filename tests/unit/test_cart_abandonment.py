from __future__ import annotations

from datetime import timedelta

from stream_app.clock import to_ms
from stream_app.decisions.cart_abandonment import (
    CartPolicy,
    CartSnapshot,
    Emit,
    Reschedule,
    Suppress,
    judge_cart,
)
from stream_app.profiles.cart import CartLine
from tests.unit.fixtures import NOW

POLICY = CartPolicy(delay=timedelta(minutes=30), decision_ttl=timedelta(hours=12))
T0 = to_ms(NOW - timedelta(minutes=45))


def snapshot(
    *lines: CartLine,
    checkout: int | None = None,
    purchase: int | None = None,
    consent: bool | None = True,
) -> CartSnapshot:
    return CartSnapshot("c-1", lines, checkout, purchase, consent)


def line(item: str, at_ms: int, event_id: str = "e-1") -> CartLine:
    return CartLine(item, "shoes", 25.0, 1, event_id, at_ms)


def test_idle_cart_yields_a_decision_with_its_items_and_why() -> None:
    outcome = judge_cart(snapshot(line("a", T0), line("b", T0 + 1000, "e-2")), POLICY, NOW)
    assert isinstance(outcome, Emit)
    decision = outcome.decision
    assert [i.item_id for i in decision.content.items] == ["a", "b"]
    assert decision.trigger_event_id == "e-2"
    assert decision.send_at == NOW
    assert decision.expires_at == NOW + timedelta(hours=12)
    assert "cart of 2 items idle 44 min" in decision.explanation


def test_same_cart_state_gives_the_same_decision_id() -> None:
    first = judge_cart(snapshot(line("a", T0)), POLICY, NOW)
    later = judge_cart(snapshot(line("a", T0)), POLICY, NOW + timedelta(minutes=5))
    other = judge_cart(snapshot(line("a", T0, "e-9")), POLICY, NOW)
    assert isinstance(first, Emit)
    assert isinstance(later, Emit)
    assert isinstance(other, Emit)
    assert first.decision.decision_id == later.decision.decision_id
    assert first.decision.decision_id != other.decision.decision_id


def test_recent_addition_postpones_the_check() -> None:
    recent = to_ms(NOW - timedelta(minutes=10))
    outcome = judge_cart(snapshot(line("a", T0), line("b", recent)), POLICY, NOW)
    assert outcome == Reschedule(recent + 30 * 60_000)


def test_checkout_or_order_after_the_items_cancels() -> None:
    assert judge_cart(snapshot(line("a", T0), checkout=T0 + 1), POLICY, NOW) == Suppress(
        "cart_settled"
    )
    assert judge_cart(snapshot(line("a", T0), purchase=T0 + 1), POLICY, NOW) == Suppress(
        "cart_settled"
    )
    assert judge_cart(snapshot(), POLICY, NOW) == Suppress("cart_empty")


def test_items_added_after_an_order_still_count() -> None:
    outcome = judge_cart(
        snapshot(line("a", T0 - 5000), line("b", T0, "e-b"), purchase=T0 - 1), POLICY, NOW
    )
    assert isinstance(outcome, Emit)
    assert [i.item_id for i in outcome.decision.content.items] == ["b"]


def test_no_message_without_explicit_consent() -> None:
    assert judge_cart(snapshot(line("a", T0), consent=None), POLICY, NOW) == Suppress("no_consent")
    assert judge_cart(snapshot(line("a", T0), consent=False), POLICY, NOW) == Suppress("no_consent")
