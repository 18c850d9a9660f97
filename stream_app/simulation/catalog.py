"""A deterministic synthetic shop catalog: categories, brands, items and local prices.

Prices are kept in EUR and converted per customer currency, so one catalog
serves a population spread over several countries.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class CategorySpec:
    """How items of one category look: price band (EUR), brands, what people search."""

    name: str
    price_range: tuple[float, float]
    brands: tuple[str, ...]
    search_terms: tuple[str, ...]


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "shoes",
        (39.0, 220.0),
        ("Stridewell", "Nordpace", "Kivo", "Urban Sole"),
        ("running shoes", "sneakers", "boots", "trail runners", "sandals"),
    ),
    CategorySpec(
        "outdoor",
        (15.0, 450.0),
        ("Fjellgear", "Summit & Co", "Trailhead", "Windrose"),
        ("tent", "rain jacket", "hiking backpack", "sleeping bag", "headlamp"),
    ),
    CategorySpec(
        "electronics",
        (19.0, 1400.0),
        ("Voltis", "Lumen", "Auralink", "Pixelcraft"),
        ("headphones", "smartwatch", "usb-c charger", "bluetooth speaker", "tablet"),
    ),
    CategorySpec(
        "beauty",
        (6.0, 120.0),
        ("Maison Clair", "Dewlab", "Verdant", "Solea"),
        ("moisturizer", "sunscreen", "lipstick", "perfume", "serum"),
    ),
    CategorySpec(
        "grocery",
        (1.5, 40.0),
        ("Harvest Table", "Green Valley", "Kornhaus", "Daily Pantry"),
        ("coffee beans", "olive oil", "oat milk", "dark chocolate", "pasta"),
    ),
    CategorySpec(
        "toys",
        (8.0, 150.0),
        ("Brickle", "Funwise", "Little Oak", "Spinwheel"),
        ("building blocks", "puzzle", "board game", "plush", "rc suv"),
    ),
    CategorySpec(
        "books",
        (7.0, 60.0),
        ("Inkwell Press", "Northlight", "Paperhouse", "Meridian"),
        ("thriller", "cookbook", "fantasy novel", "biography", "travel guide"),
    ),
    CategorySpec(
        "home",
        (9.0, 600.0),
        ("Hyggeli", "Casa Nova", "Linenworks", "Ironbark"),
        ("bed linen", "desk lamp", "cast iron pan", "storage box", "rug"),
    ),
    CategorySpec(
        "fashion",
        (12.0, 300.0),
        ("Atelier Nine", "Blue Harbor", "Kinfolk", "Marlowe"),
        ("jeans", "linen shirt", "winter coat", "dress", "hoodie"),
    ),
    CategorySpec(
        "sports",
        (10.0, 900.0),
        ("Peakform", "Rallye", "Aquaflow", "Ironpulse"),
        ("yoga mat", "dumbbells", "bike helmet", "swim goggles", "tennis racket"),
    ),
)

#: Units of each currency per EUR; rough, fixed rates keep runs reproducible.
FX_PER_EUR: Mapping[str, float] = MappingProxyType(
    {
        "EUR": 1.0,
        "GBP": 0.85,
        "USD": 1.08,
        "CAD": 1.47,
        "BRL": 5.4,
        "JPY": 160.0,
        "SGD": 1.45,
        "INR": 90.0,
        "AUD": 1.62,
    }
)

#: Currencies priced in whole units (no cents), as shops there do.
_WHOLE_UNIT_CURRENCIES = frozenset({"JPY", "INR"})


@dataclass(frozen=True, slots=True)
class Item:
    item_id: str
    category: str
    brand: str
    price_eur: float


@dataclass(frozen=True, slots=True)
class Catalog:
    """Items grouped by category; look-ups the generator needs on every step."""

    items: tuple[Item, ...]
    by_category: Mapping[str, tuple[Item, ...]]
    specs: Mapping[str, CategorySpec]

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(self.by_category)


def make_catalog(seed: int = 0, items_per_category: int = 60) -> Catalog:
    """Build a catalog; the same seed always yields the same items and prices.

    Prices are log-uniform inside the category band (many cheap, few expensive
    items) and end in .99 like shop prices do.
    """
    if items_per_category < 1:
        raise ValueError("items_per_category must be >= 1")
    rng = random.Random(f"catalog:{seed}")
    items: list[Item] = []
    by_category: dict[str, tuple[Item, ...]] = {}
    for spec in CATEGORIES:
        low, high = spec.price_range
        in_category: list[Item] = []
        for _ in range(items_per_category):
            raw = math.exp(rng.uniform(math.log(low), math.log(high)))
            item = Item(
                item_id=f"sku-{len(items):06d}",
                category=spec.name,
                brand=rng.choice(spec.brands),
                price_eur=math.floor(raw) + 0.99,
            )
            items.append(item)
            in_category.append(item)
        by_category[spec.name] = tuple(in_category)
    return Catalog(
        items=tuple(items),
        by_category=MappingProxyType(by_category),
        specs=MappingProxyType({spec.name: spec for spec in CATEGORIES}),
    )


def local_price(item: Item, currency: str) -> float:
    """The shelf price of ``item`` in ``currency``."""
    amount = item.price_eur * FX_PER_EUR[currency]
    if currency in _WHOLE_UNIT_CURRENCIES:
        return float(round(amount))
    return round(amount, 2)
