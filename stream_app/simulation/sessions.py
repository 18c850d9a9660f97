"""One visit of a simulated customer and the clickstream it emits: the visit opens on
web or app, browses (product views, pages, searches), fills a cart and reaches
checkout, or walks away. ``EventGenerator`` decides which step comes next."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypedDict

from stream_app.events.clickstream import (
    AddToCart,
    AppOpen,
    CheckoutStart,
    PageView,
    ProductView,
    Referral,
    RemoveFromCart,
    Search,
    SessionStart,
)
from stream_app.events.registry import Event
from stream_app.simulation.catalog import Catalog, Item, local_price
from stream_app.simulation.identity import IdentityStep
from stream_app.simulation.ids import event_id
from stream_app.simulation.population import Customer, Platform
from stream_app.simulation.purchases import cart_total

Intent = Literal["browse", "buy", "abandon"]


class _ClickBase(TypedDict):
    event_id: str
    event_time: datetime
    customer_id: str
    session_id: str


@dataclass(slots=True, eq=False)
class Session:
    """Where one customer is in one visit."""

    customer: int
    session_id: str
    platform: Platform
    intent: Intent
    steps_left: int
    cart_goal: int
    identity: deque[IdentityStep]
    opened: bool = False
    checkout_started: bool = False
    done: bool = False
    last_viewed: Item | None = None
    cart: dict[str, tuple[Item, int]] = field(default_factory=dict)


def open_event(rng: random.Random, customer: Customer, s: Session, now: datetime) -> Event:
    base = _click_base(rng, customer, s, now)
    if s.platform == "web":
        return SessionStart(type="session_start", platform="web", **base)
    return AppOpen(type="app_open", platform=s.platform, **base)


def browse(
    rng: random.Random,
    catalog: Catalog,
    customer: Customer,
    s: Session,
    now: datetime,
    viewed: deque[Item],
) -> Event:
    """Mostly product views (noted in ``viewed``); some category/home pages and searches
    in between."""
    base = _click_base(rng, customer, s, now)
    category = _favoured_category(rng, customer)
    roll = rng.random()
    if roll < 0.62:
        item = _pick_item(rng, catalog, customer, category)
        s.last_viewed = item
        viewed.append(item)
        return ProductView(
            type="product_view",
            item_id=item.item_id,
            category=item.category,
            price=local_price(item, customer.currency),
            brand=item.brand,
            **base,
        )
    if roll < 0.85:
        path = rng.choice((f"/c/{category}", f"/c/{category}", "/", "/deals", "/wishlist"))
        referrer = None
        if rng.random() < 0.15:
            referrer = rng.choice(("https://www.google.com/", "https://www.instagram.com/"))
        return PageView(type="page_view", path=path, referrer=referrer, **base)
    spec = catalog.specs[category]
    query = rng.choice(spec.search_terms)
    if rng.random() < 0.25:
        query = f"{rng.choice(spec.brands).lower()} {query}"
    return Search(type="search", query=query, **base)


def add_to_cart(
    rng: random.Random, customer: Customer, s: Session, item: Item, now: datetime
) -> AddToCart:
    """``item`` into the cart: several of a grocery, one of anything else."""
    quantity = rng.randint(1, 4) if item.category == "grocery" else 1
    s.cart[item.item_id] = (item, quantity)
    return AddToCart(
        type="add_to_cart",
        item_id=item.item_id,
        category=item.category,
        price=local_price(item, customer.currency),
        quantity=quantity,
        brand=item.brand,
        **_click_base(rng, customer, s, now),
    )


def remove_from_cart(
    rng: random.Random, customer: Customer, s: Session, now: datetime
) -> RemoveFromCart:
    """A line taken out of the cart again."""
    item, quantity = s.cart.pop(rng.choice(sorted(s.cart)))
    return RemoveFromCart(
        type="remove_from_cart",
        item_id=item.item_id,
        quantity=quantity,
        **_click_base(rng, customer, s, now),
    )


def checkout_start(
    rng: random.Random, customer: Customer, s: Session, now: datetime
) -> CheckoutStart:
    return CheckoutStart(
        type="checkout_start",
        cart_value=cart_total(s.cart, customer.currency),
        **_click_base(rng, customer, s, now),
    )


def referral(rng: random.Random, customer: Customer, s: Session, now: datetime) -> Referral:
    """An invite (naming a friend) or a share, through one of a few channels."""
    kinds: tuple[Literal["invite"], Literal["share"]] = ("invite", "share")
    kind = rng.choice(kinds)
    invitee = f"friend-{rng.getrandbits(32):08x}" if kind == "invite" else None
    channel = rng.choice(("whatsapp", "email", "link"))
    base = _click_base(rng, customer, s, now)
    return Referral(type="referral", kind=kind, channel=channel, invitee_id=invitee, **base)


def _favoured_category(rng: random.Random, customer: Customer) -> str:
    names = [name for name, _ in customer.tastes]
    weights = [weight for _, weight in customer.tastes]
    return rng.choices(names, weights=weights)[0]


def _pick_item(rng: random.Random, catalog: Catalog, customer: Customer, category: str) -> Item:
    """Price-sensitive customers mostly end up on the cheapest of a few candidates."""
    candidates = rng.sample(catalog.by_category[category], 3)
    if rng.random() < customer.price_sensitivity:
        return min(candidates, key=lambda item: item.price_eur)
    return candidates[0]


def _click_base(rng: random.Random, customer: Customer, s: Session, now: datetime) -> _ClickBase:
    return {
        "event_id": event_id(rng),
        "event_time": now,
        "customer_id": customer.customer_id,
        "session_id": s.session_id,
    }
