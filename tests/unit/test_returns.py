"""Returns, refunds and cancellations: exact per currency, once per return id, the same
profile whatever the order of arrival (fold + state against the independent oracle)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from stream_app.clock import to_ms
from stream_app.decisions.campaigns import Campaign, CartAbandonment, Replenishment
from stream_app.decisions.planner import Rules
from stream_app.decisions.policies import CANCELLING, Caps, Suppressed
from stream_app.events.decision import Content, Decision
from stream_app.events.purchase import LineItem, Purchase
from stream_app.events.registry import EVENT_ADAPTERS, Stream
from stream_app.events.returns import OrderReversal
from stream_app.profiles.derive import ValueRules, derive
from stream_app.profiles.fold import FoldConfig, fold
from stream_app.profiles.money import FxRates
from stream_app.profiles.presence import PRESENCE_FIELDS
from stream_app.profiles.state import ProfileState, StateLimits, apply_updates
from stream_app.storage.decisions import PendingDecision
from stream_app.streaming.checks import recheck
from tests.oracle.compare import diff_fields
from tests.oracle.config import OracleConfig
from tests.oracle.recompute import Oracle, Outcome

T0 = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
DAY = timedelta(days=1)
FOLD = FoldConfig(b"k", None)
LIMITS = StateLimits(86_400_000, 7 * 86_400_000, 28 * 86_400_000, 20, 10)
FX = FxRates("EUR", {"EUR": 1.0, "USD": 0.5}, date(2026, 3, 1))
RULES = ValueRules(fx=FX)
ORACLE = OracleConfig(secret=b"k", fx_to_base={"EUR": 1.0, "USD": 0.5})
_ids = iter(range(10**6))


def line(item: str, quantity: int, price: float) -> LineItem:
    return LineItem(item_id=item, category="shoes", quantity=quantity, unit_price=price)


def order(
    order_id: str, at: datetime, lines: list[LineItem], total: float, cur: str = "EUR"
) -> Purchase:
    return Purchase(
        type="purchase",
        event_id=f"e-{next(_ids)}",
        event_time=at,
        customer_id="ann",
        order_id=order_id,
        items=lines,
        total=total,
        currency=cur,
    )


def reversal(
    kind: str, return_id: str, order_id: str, at: datetime, amount: float, **kw: Any
) -> OrderReversal:
    return OrderReversal(
        type=kind,  # type: ignore[arg-type]
        event_id=f"e-{next(_ids)}",
        event_time=at,
        customer_id="ann",
        return_id=return_id,
        order_id=order_id,
        amount=amount,
        currency=kw.pop("currency", "EUR"),
        **kw,
    )


def engine(events: list[Any]) -> ProfileState:
    """The worker's fold and apply, one event per batch, the id index kept throughout
    (``created_ms``, processing time, left out)."""
    state, seen = ProfileState("ann"), set[str]()
    for e in events:
        apply_updates(state, [fold(e, "ann", FOLD)], seen, LIMITS, to_ms(T0))
    del state.fields["created_ms"]
    return state


def oracle(events: list[Any]) -> dict[str, Any]:
    o = Oracle(ORACLE)
    for e in events:
        o.apply(e)
    return o.profiles(to_ms(T0))["ann"].fields


def story() -> list[Any]:
    """Two orders in two currencies; a line return, a whole return, a refund, a
    cancellation of an order that arrives later, and a credit note sent twice."""
    o1 = order("o1", T0, [line("a", 2, 10.0), line("b", 1, 30.0)], 50.0)
    o2 = order("o2", T0 + DAY, [line("c", 3, 4.0)], 12.0, "USD")
    o3 = order("o3", T0 + 2 * DAY, [line("d", 1, 0.1), line("e", 1, 0.2)], 0.3)
    partial = reversal("return", "r1", "o1", T0 + 5 * DAY, 10.0, items=[line("a", 1, 10.0)])
    partial_again = partial.model_copy(update={"event_id": "e-again"})
    whole = reversal("return", "r2", "o2", T0 + 9 * DAY, 12.0, currency="USD")
    refund = reversal("refund", "r3", "o1", T0 + 6 * DAY, 5.0)
    cancel = reversal("cancellation", "r4", "o3", T0 + 3 * DAY, 0.3)
    return [o1, o2, partial, partial_again, whole, refund, cancel, o3]


def test_a_story_of_returns_matches_the_oracle_and_the_view_nets_it() -> None:
    events = story()
    state = engine(events)
    f = state.fields
    assert diff_fields("ann", oracle(events), f, {}) == []
    assert (f["spend:EUR"], f["returned:EUR"], f["spend:USD"], f["returned:USD"]) == (
        5030, 1530, 1200, 1200,
    ), "exact minor units: 50 + 0.30 bought, 10 + 5 + 0.30 back"  # fmt: skip
    assert (f["n:purchase"], f["returned_orders"], f["returned_units"]) == (3, 2, 1 + 3 + 2)
    assert f["n:return"] == 2, "the credit note sent twice is applied once"
    view = derive(state, T0 + 10 * DAY, RULES)
    assert view.orders == 1
    assert view.monetary == pytest.approx(35.0), "net: 50.30 - 15.30 EUR, USD all back"
    assert view.wallet.return_rate == pytest.approx(round((15.3 + 6.0) / (50.3 + 6.0), 4))
    value = view.as_dict()["value"]
    assert value["spend"]["EUR"] == {"gross": "50.30", "returned": "15.30", "net": "35.00"}
    assert value["monetary"] == {"amount": "35.00", "currency": "EUR"}
    assert (value["base_currency"], value["fx_rates_date"]) == ("EUR", "2026-03-01")


@pytest.mark.parametrize("seed", range(20))
def test_any_order_of_arrival_and_redelivery_gives_the_same_profile(seed: int) -> None:
    events = story()
    rng = random.Random(seed)
    shuffled = events + rng.sample(events, 4)  # some redelivered
    rng.shuffle(shuffled)
    expected = engine(events).fields
    got = engine(shuffled).fields
    keep = {"n", "first_seen", "last_seen", "created_ms", *PRESENCE_FIELDS}  # arrival order
    assert {k: v for k, v in got.items() if k not in keep} == {
        k: v for k, v in expected.items() if k not in keep
    }
    assert diff_fields("ann", oracle(shuffled), got, {}) == []


def test_a_return_days_after_its_order_and_an_order_after_its_return_both_apply() -> None:
    """Order and return ids are kept for the profile's life: neither is ever too late."""
    o1 = order("o1", T0, [line("a", 1, 20.0)], 20.0)
    back = reversal("return", "r1", "o1", T0 + 20 * DAY, 20.0)
    for events in ([o1, back], [back, o1]):
        f = engine(events).fields
        assert (f["n:purchase"], f["n:return"], f["returned_orders"], f["returned_units"]) == (
            1, 1, 1, 1,
        )  # fmt: skip
        assert Oracle(ORACLE).apply(events[0]) is Outcome.APPLIED


def test_a_return_is_known_by_its_return_id_not_its_event_id() -> None:
    back = reversal("refund", "cn-7", "o1", T0, 5.0)
    update = fold(back, "ann", FOLD)
    assert update.lifelong
    assert update.event_id == "return/cn-7"


def test_money_is_exact_per_currency_and_unrated_currencies_add_nothing_to_base() -> None:
    events = [
        order("o1", T0, [line("a", 3, 0.1)], 0.3),
        order("o2", T0, [line("b", 1, 1500)], 1500, "JPY"),
        order("o3", T0, [line("c", 1, 1.25)], 1.25, "KWD"),
    ]
    f = engine(events).fields
    assert (f["spend:EUR"], f["spend:JPY"], f["spend:KWD"]) == (30, 1500, 1250)
    assert f["units_value:EUR"] == 30
    value = derive(ProfileState("ann", f), T0, RULES).as_dict()["value"]
    assert value["spend"]["JPY"]["gross"] == "1500"
    assert value["spend"]["KWD"]["net"] == "1.250"
    assert value["monetary"]["amount"] == "0.30", "JPY and KWD have no rate here"


def test_the_purchase_topic_carries_returns() -> None:
    raw = {
        "type": "cancellation",
        "event_id": "e-1",
        "event_time": "2026-03-02T10:30:00Z",
        "customer_id": "ann",
        "return_id": "c-1",
        "order_id": "o-1",
        "amount": 0,
        "currency": "EUR",
    }
    event = EVENT_ADAPTERS[Stream.PURCHASE].validate_python(raw)
    assert isinstance(event, OrderReversal)
    assert event.items is None


def _pending(campaign_id: str, trigger_at: datetime) -> PendingDecision:
    decision = Decision(
        decision_id="d-1",
        customer_id="ann",
        campaign_id=campaign_id,
        channel="push",
        content=Content(template="t"),
        decided_at=trigger_at,
        send_at=trigger_at + DAY,
        expires_at=trigger_at + 3 * DAY,
        explanation="due",
    )
    return PendingDecision(decision, "regular", "purchase", DAY, trigger_at, timedelta(0))


@pytest.mark.parametrize(
    ("campaign", "returned_after", "reason"),
    [
        (Campaign(id="refill", trigger=Replenishment()), True, "returned"),
        (Campaign(id="refill", trigger=Replenishment()), False, None),
        (Campaign(id="xsell", trigger=CartAbandonment(), content="cross_sell"), True, "returned"),
        (Campaign(id="cart", trigger=CartAbandonment()), True, None),
    ],
)
def test_goods_returned_after_the_trigger_cancel_a_replenishment_or_cross_sell(
    campaign: Campaign, returned_after: bool, reason: str | None
) -> None:
    trigger_at = T0 + DAY
    back = reversal("return", "r1", "o1", T0 + (2 if returned_after else 0) * DAY, 10.0)
    state = engine([order("o1", T0, [line("a", 1, 10.0)], 10.0), back])
    state.fields["consent:push"] = "1"
    view = derive(state, trigger_at + DAY, RULES)
    rules = Rules(Caps({}, {}, None), None, (1.0,) * 24, 1.0)
    verdict = recheck(_pending(campaign.id, trigger_at), view, [], rules, view.now, campaign)
    assert (verdict.reason if isinstance(verdict, Suppressed) else None) == reason
    if reason:
        assert reason in CANCELLING, "counted as decisions_cancelled:returned"
