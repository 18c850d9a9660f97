"""What real shops' order logs hold that the tidy simulator does not: item ids with
spaces, accents and punctuation, fee lines, and B2B invoices of thousands of lines.

Amounts are drawn in minor units and the wire total is their exact sum, so the
truth can be booked without floats.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from stream_app.events.purchase import LineItem, Purchase
from stream_app.simulation.ids import event_id
from stream_app.simulation.money import from_minor, scale, to_minor

#: Item ids as retailers' exports spell them: printable, up to 128 characters.
ODD_ITEM_IDS: tuple[str, ...] = (
    "BANK CHARGES",
    "POST",
    "Manual",
    "Café crème 250 g",
    "ÆØÅ smørrebrød #3",
    'Bolts M8 x 40 "DIN 933" (100/pk)',
    "10% off: voucher/2026-Q4",
    "Gift wrap 🎁",
    "  leading and trailing spaces  ",
    "É" * 128,
    "x" * 127 + "!",
)
#: Country of each simulated city (``population.CITIES``), for the order's ``country``.
COUNTRY_OF_CITY: Mapping[str, str] = MappingProxyType(
    {
        "Berlin": "DE",
        "Munich": "DE",
        "Paris": "FR",
        "Madrid": "ES",
        "London": "GB",
        "New York": "US",
        "Chicago": "US",
        "Los Angeles": "US",
        "Toronto": "CA",
        "Sao Paulo": "BR",
        "Tokyo": "JP",
        "Singapore": "SG",
        "Mumbai": "IN",
        "Sydney": "AU",
    }
)


def odd_line(rng: random.Random, currency: str) -> tuple[LineItem, int]:
    """A fee or oddly named line (one unit) and its price in minor units."""
    item = rng.choice(ODD_ITEM_IDS)
    price = rng.randint(1, 40) * scale(currency) // 4 or 1
    line = LineItem(
        item_id=item, category="misc", quantity=1, unit_price=from_minor(price, currency)
    )
    return line, price


def with_odd_line(rng: random.Random, order: Purchase) -> Purchase:
    """``order`` with one more line from ``ODD_ITEM_IDS`` and its total raised to match."""
    line, price = odd_line(rng, order.currency)
    total = to_minor(order.total, order.currency) + price
    return order.model_copy(
        update={"items": [*order.items, line], "total": from_minor(total, order.currency)}
    )


def b2b_order(
    rng: random.Random,
    customer_id: str,
    country: str | None,
    currency: str,
    lines: int,
    max_quantity: int,
    now: datetime,
) -> tuple[Purchase, int]:
    """A B2B invoice of ``lines`` lines (a few in bulk, up to ``max_quantity`` units at
    one minor unit each) and its total in minor units."""
    unit = scale(currency)
    items: list[LineItem] = []
    total = 0
    bulk = set(rng.sample(range(lines), min(lines, 3)))
    for index in range(lines):
        roll = rng.random()
        if index in bulk:
            quantity, price = rng.randint(max_quantity // 2, max_quantity), 1
        elif roll < 0.8:
            quantity, price = rng.randint(1, 24), rng.randint(unit // 4 or 1, 20 * unit)
        else:
            quantity, price = rng.randint(25, 500), rng.randint(1, 2 * unit)
        item = rng.choice(ODD_ITEM_IDS) if roll > 0.98 else f"B2B-{rng.randrange(10**6):06d}"
        category = "misc" if roll > 0.98 else rng.choice(("fasteners", "office", "packaging"))
        items.append(
            LineItem(
                item_id=item,
                category=category,
                quantity=quantity,
                unit_price=from_minor(price, currency),
            )
        )
        total += quantity * price
    order = Purchase(
        type="purchase",
        event_id=event_id(rng),
        event_time=now,
        order_id=f"inv-{rng.getrandbits(64):016x}",
        items=items,
        total=from_minor(total, currency),
        currency=currency,
        customer_id=customer_id,
        country=country,
    )
    return order, total
