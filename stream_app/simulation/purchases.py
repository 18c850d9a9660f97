"""Orders of simulated customers: a session's cart bought at the customer's local prices."""

from __future__ import annotations

import random
from datetime import datetime

from stream_app.events.purchase import LineItem, Purchase
from stream_app.simulation.catalog import Item, local_price
from stream_app.simulation.ids import event_id
from stream_app.simulation.population import Customer


def purchase(
    rng: random.Random, customer: Customer, cart: dict[str, tuple[Item, int]], now: datetime
) -> Purchase:
    lines = [
        LineItem(
            item_id=item.item_id,
            category=item.category,
            quantity=quantity,
            unit_price=local_price(item, customer.currency),
            brand=item.brand,
        )
        for item, quantity in cart.values()
    ]
    return Purchase(
        type="purchase",
        event_id=event_id(rng),
        event_time=now,
        customer_id=customer.customer_id,
        order_id=f"ord-{rng.getrandbits(64):016x}",
        items=lines,
        total=cart_total(cart, customer.currency),
        currency=customer.currency,
    )


def cart_total(cart: dict[str, tuple[Item, int]], currency: str) -> float:
    return round(sum(local_price(item, currency) * quantity for item, quantity in cart.values()), 2)
