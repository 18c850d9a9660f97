"""The funnel's counters as the worker keeps them (per batch, ``cells(after) -
cells(before)`` of each customer) equal the report recomputed from the raw events
(``tests.oracle.funnel``), whatever the order, the redeliveries, the backfilled
older events and the anonymous history merged in."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from stream_app.clock import to_ms
from stream_app.decisions.funnel import FunnelRules, FunnelView, cells, delta
from stream_app.events.clickstream import AddToCart, AppOpen, PageView, Referral
from stream_app.events.purchase import LineItem, Purchase
from stream_app.events.registry import Event
from stream_app.events.returns import OrderReversal
from stream_app.profiles.fold import FoldConfig, fold
from stream_app.profiles.merge import merge
from stream_app.profiles.state import ProfileState, StateLimits, apply_updates
from tests.oracle.funnel import Definitions, expected_counts

START = datetime(2026, 1, 1, tzinfo=UTC)
RULES = FunnelRules(period="week", retention_periods=6, sources=("google", "instagram"))
DEFINITIONS = Definitions("week", 6, RULES.activation_events, 1, RULES.sources)
LIMITS = StateLimits(1 << 62, 86_400_000, 86_400_000, 5, 5, active_periods=6)
CONFIG = FoldConfig(b"k", None)
REFERRERS = (None, "https://www.google.com/", "https://l.instagram.com/x", "https://example.org/")


def events(rng: random.Random, customer: str, n: int) -> list[Event]:
    """A customer's events over ten weeks: pages, opens, carts, orders, cancellations
    and referrals."""
    out: list[Event] = []
    for i in range(n):
        base = {
            "event_id": f"{customer}-{i}",
            "customer_id": customer,
            "event_time": START + timedelta(hours=rng.randrange(70 * 24)),
        }
        roll = rng.random()
        if roll < 0.3:
            out.append(PageView(type="page_view", path="/", referrer=rng.choice(REFERRERS), **base))
        elif roll < 0.5:
            out.append(AppOpen(type="app_open", **base))
        elif roll < 0.65:
            out.append(AddToCart(type="add_to_cart", item_id="i", category="c", price=1.0, **base))
        elif roll < 0.8:
            line = LineItem(item_id="i", category="c", quantity=1, unit_price=5.0)
            order = f"{customer}-o{i % 3}"
            out.append(
                Purchase(
                    type="purchase", order_id=order, items=[line], total=5.0, currency="EUR", **base
                )
            )
        elif roll < 0.9:
            out.append(
                OrderReversal(
                    type="cancellation",
                    return_id=f"{customer}-r{i}",
                    order_id=f"{customer}-o{i % 3}",
                    amount=5.0,
                    currency="EUR",
                    **base,
                )
            )
        else:
            out.append(Referral(type="referral", kind="share", **base))
    return out


def counted(batches: list[list[tuple[str, Event]]]) -> Counter[str]:
    """What the worker's commits add up to: per batch and customer, the cells' change."""
    states: dict[str, ProfileState] = {}
    seen: dict[str, set[str]] = {}
    total: Counter[str] = Counter()
    for batch in batches:
        mine: dict[str, list[Event]] = {}
        for customer, event in batch:
            mine.setdefault(customer, []).append(event)
        for customer, evs in mine.items():
            state = states.setdefault(customer, ProfileState(customer))
            before = FunnelView.of(state)
            updates = [fold(e, customer, CONFIG) for e in evs]
            apply_updates(state, updates, seen.setdefault(customer, set()), LIMITS, 0)
            total.update(delta(cells(before, RULES), cells(state, RULES)))
    return +total


@pytest.mark.parametrize("seed", range(8))
def test_counters_equal_the_recount_under_any_order_redelivery_and_backfill(seed: int) -> None:
    rng = random.Random(seed)
    pairs = [(f"c{c}", e) for c in range(6) for e in events(rng, f"c{c}", rng.randrange(1, 25))]
    want = expected_counts(pairs, DEFINITIONS)
    live = sorted(pairs, key=lambda pair: pair[1].event_time)
    cut = len(live) // 3
    history, recent = live[:cut], live[cut:]  # the older third arrives last (a backfill)
    stream = recent + rng.sample(recent, len(recent) // 4)  # redeliveries
    rng.shuffle(stream)
    stream += history + rng.sample(history, len(history) // 2)
    cuts = sorted({0, len(stream), *rng.sample(range(len(stream)), len(stream) // 4)})
    batches = [stream[a:b] for a, b in pairwise(cuts)]
    assert counted(batches) == Counter(want)


def test_an_older_event_moves_the_customer_to_its_cohort() -> None:
    late = PageView(type="page_view", path="/", event_id="a", customer_id="c", event_time=START)
    later = AppOpen(
        type="app_open", event_id="b", customer_id="c", event_time=START + timedelta(days=14)
    )
    assert counted([[("c", later)]]) == Counter({"2026-W03|unknown|acquisition": 1})
    assert counted([[("c", later)], [("c", late)], [("c", late)]]) == Counter(
        {
            "2026-W01|direct|acquisition": 1,
            "2026-W01|direct|retention": 1,
            "2026-W01|direct|r2": 1,
        }
    )


def test_a_merged_visitor_history_counts_as_if_the_customer_had_it() -> None:
    rng = random.Random(7)
    mine, theirs = events(rng, "c", 12), events(rng, "c", 12)
    theirs = [e.model_copy(update={"event_id": f"v-{e.event_id}"}) for e in theirs]
    whole = ProfileState("c")
    apply_updates(whole, [fold(e, "c", CONFIG) for e in mine + theirs], set(), LIMITS, 0)
    customer, visitor = ProfileState("c"), ProfileState("~anon:ab")
    apply_updates(customer, [fold(e, "c", CONFIG) for e in mine], set(), LIMITS, 0)
    apply_updates(visitor, [fold(e, "~anon:ab", CONFIG) for e in theirs], set(), LIMITS, 0)
    assert cells(visitor, RULES) == frozenset()  # a visitor counts only once linked
    assert cells(merge(customer, visitor, LIMITS), RULES) == cells(whole, RULES)
    assert {k: whole.fields[k] for k in ("ap", "ab", "src")} == {
        k: merge(customer, visitor, LIMITS).fields[k] for k in ("ap", "ab", "src")
    }


def test_revenue_is_net_of_orders_cancelled_whole() -> None:
    line = LineItem(item_id="i", category="c", quantity=1, unit_price=5.0)
    at = {"customer_id": "c", "event_time": START}
    bought = Purchase(
        type="purchase", event_id="p", order_id="o", items=[line], total=5.0, currency="EUR", **at
    )
    cancelled = OrderReversal(
        type="cancellation",
        event_id="x",
        return_id="r",
        order_id="o",
        amount=5.0,
        currency="EUR",
        **at,
    )
    assert "2026-W01|unknown|revenue" in counted([[("c", bought)]])
    assert "2026-W01|unknown|revenue" not in counted([[("c", cancelled)], [("c", bought)]])
    assert to_ms(START) == 1767225600000
