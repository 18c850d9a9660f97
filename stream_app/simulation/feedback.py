"""How a synthetic customer reacts to a notification decision.

The funnel is delivered -> opened -> clicked -> converted (+ the purchase),
with dismissals and rare unsubscribes on the way. Opening depends on the
customer's responsiveness and on the local hour the message lands in;
clicking on how well the content matches their tastes. This gives the engine
a learnable signal for right-time and right-content decisions.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TypedDict

from stream_app.events.base import Channel
from stream_app.events.decision import Decision
from stream_app.events.feedback import (
    Clicked,
    Converted,
    Delivered,
    Dismissed,
    Opened,
    Unsubscribed,
)
from stream_app.events.purchase import LineItem, Purchase
from stream_app.events.registry import Event, Stream
from stream_app.simulation.engagement import OFFER_UPLIFT
from stream_app.simulation.population import Customer

#: Chance a message to an opted-in customer reaches the device.
DELIVERY_RATE = 0.97
#: Open chance is ``responsiveness * factor + floor``; in active hours the factor is higher.
OPEN_FACTOR_ACTIVE = 0.7
OPEN_FACTOR_IDLE = 0.2
OPEN_FLOOR = 0.03
#: Click chance given opened is ``CLICK_BASE + CLICK_TASTE * affinity`` (affinity in [0, 1]).
CLICK_BASE = 0.08
CLICK_TASTE = 0.5
#: Conversion chance given clicked, lowered by price sensitivity.
CONVERT_BASE = 0.45
#: Given not opened: chance of a swipe-away dismissal, and of an unsubscribe.
DISMISS_RATE = 0.35
UNSUBSCRIBE_RATE = 0.015


class _FeedbackBase(TypedDict):
    event_id: str
    event_time: datetime
    customer_id: str
    decision_id: str
    channel: Channel


def respond(
    decision: Decision, customer: Customer, rng: random.Random, now: datetime
) -> list[tuple[Stream, Event]]:
    """The feedback (and maybe purchase) events ``customer`` produces for ``decision``.

    ``now`` is when the message arrives; events follow it by a few seconds, in
    order. A customer who has not opted in to the channel gets nothing: the
    notification service would not deliver.
    """
    if decision.customer_id != customer.customer_id:
        raise ValueError("decision is for another customer")
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    opted_in = {"push": customer.push_opt_in, "email": customer.email_opt_in}
    if not opted_in.get(decision.channel, True) or rng.random() >= DELIVERY_RATE:
        return []
    events: list[tuple[Stream, Event]] = []
    at = now

    def later(low: float, high: float) -> _FeedbackBase:
        nonlocal at
        at += timedelta(seconds=rng.uniform(low, high))
        return {
            "event_id": f"ev-{rng.getrandbits(64):016x}",
            "event_time": at,
            "customer_id": customer.customer_id,
            "decision_id": decision.decision_id,
            "channel": decision.channel,
        }

    events.append((Stream.FEEDBACK, Delivered(type="delivered", **later(0.2, 2))))
    if rng.random() >= open_probability(customer, now):
        if rng.random() < UNSUBSCRIBE_RATE:
            events.append((Stream.FEEDBACK, Unsubscribed(type="unsubscribed", **later(2, 20))))
        elif rng.random() < DISMISS_RATE:
            events.append((Stream.FEEDBACK, Dismissed(type="dismissed", **later(1, 10))))
        return events
    events.append((Stream.FEEDBACK, Opened(type="opened", **later(1, 10))))
    if rng.random() >= click_probability(decision, customer):
        return events
    events.append((Stream.FEEDBACK, Clicked(type="clicked", **later(1, 5))))
    lines = [
        LineItem(
            item_id=item.item_id,
            category=item.category,
            quantity=min(item.quantity, 10_000),
            unit_price=item.price,
        )
        for item in decision.content.items
        if item.category is not None and item.price is not None
    ][:500]
    if not lines or rng.random() >= CONVERT_BASE * (1 - 0.5 * customer.price_sensitivity):
        return events
    total = round(sum(line.unit_price * line.quantity for line in lines), 2)
    order_id = f"ord-{rng.getrandbits(64):016x}"
    converted = later(5, 20)
    events.append(
        (
            Stream.FEEDBACK,
            Converted(type="converted", order_id=order_id, value=total, **converted),
        )
    )
    events.append(
        (
            Stream.PURCHASE,
            Purchase(
                type="purchase",
                event_id=f"ev-{rng.getrandbits(64):016x}",
                event_time=at,
                customer_id=customer.customer_id,
                order_id=order_id,
                items=lines,
                total=total,
                currency=customer.currency,
            ),
        )
    )
    return events


def open_probability(customer: Customer, now: datetime) -> float:
    """Chance of opening a message that lands at ``now``."""
    factor = OPEN_FACTOR_ACTIVE if customer.is_active_at(now) else OPEN_FACTOR_IDLE
    return min(1.0, OPEN_FLOOR + factor * customer.responsiveness)


def click_probability(decision: Decision, customer: Customer) -> float:
    """Chance of clicking an opened message: the best taste match among its items, lifted
    by an offer for price-sensitive customers."""
    affinity = max((customer.taste(item.category) for item in decision.content.items), default=0.0)
    offer = OFFER_UPLIFT.get(decision.content.offer or "", 0.0) * customer.price_sensitivity
    return min(1.0, (CLICK_BASE + CLICK_TASTE * affinity) * (1.0 + offer))
