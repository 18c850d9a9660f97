"""Visitors the engine does not know yet: guests who browse and buy under an anonymous
id (cookie, app install) and log in later, and phones whose first reading comes
seconds before the traits that link them.

Guest events name an ``anonymous_id`` beside or instead of ``customer_id``; an event
with both links them.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from stream_app.events.clickstream import ProductView
from stream_app.events.identity import Traits
from stream_app.events.purchase import Purchase
from stream_app.events.sensor import Location
from stream_app.simulation.catalog import Item, local_price
from stream_app.simulation.ids import event_id
from stream_app.simulation.money import from_minor, to_minor
from stream_app.simulation.population import Customer


def anonymous_id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}anon-{rng.getrandbits(64):016x}"


def guest_view(
    rng: random.Random, anonymous: str, item: Item, currency: str, at: datetime
) -> ProductView:
    """A product view by a visitor known only by ``anonymous``."""
    return ProductView.model_validate(
        {
            "type": "product_view",
            "event_id": event_id(rng),
            "event_time": at,
            "anonymous_id": anonymous,
            "item_id": item.item_id,
            "category": item.category,
            "price": local_price(item, currency),
        },
    )


def guest_checkout(
    rng: random.Random,
    ids: dict[str, str],
    items: list[Item],
    currency: str,
    at: datetime,
) -> tuple[Purchase, int]:
    """An order of one unit of each of ``items`` under ``ids`` (an ``anonymous_id``, with
    a ``customer_id`` when checkout also logs in) and its total in minor units."""
    minor = sum(to_minor(local_price(item, currency), currency) for item in items)
    fields: dict[str, Any] = {
        "type": "purchase",
        "event_id": event_id(rng),
        "event_time": at,
        **ids,
        "order_id": f"ord-{rng.getrandbits(64):016x}",
        "items": [
            {
                "item_id": item.item_id,
                "category": item.category,
                "quantity": 1,
                "unit_price": local_price(item, currency),
            }
            for item in items
        ],
        "total": from_minor(minor, currency),
        "currency": currency,
    }
    return Purchase.model_validate(fields), minor


def login(rng: random.Random, customer: Customer, anonymous: str, at: datetime) -> Traits:
    """The identify call of a login: both ids, which links the guest history to the
    customer."""
    return Traits.model_validate(
        {
            "type": "traits",
            "event_id": event_id(rng),
            "event_time": at,
            "customer_id": customer.customer_id,
            "anonymous_id": anonymous,
            "locale": customer.locale,
        },
    )


def unlinked_reading(rng: random.Random, device: str, customer: Customer, at: datetime) -> Location:
    """A location reading from ``device``, a phone no traits have linked yet."""
    return Location(
        type="location",
        event_id=event_id(rng),
        event_time=at,
        device_id=device,
        lat=customer.city.lat,
        lon=customer.city.lon,
        accuracy_m=round(rng.uniform(3, 60), 1),
    )


def device_link(rng: random.Random, customer: Customer, device: str, at: datetime) -> Traits:
    """Traits that link ``device`` to ``customer`` (sent a few seconds after its reading)."""
    return Traits(
        type="traits",
        event_id=event_id(rng),
        event_time=at,
        customer_id=customer.customer_id,
        device_ids=[device],
    )
