"""A deterministic, realistic stream of customer events for demos and load tests.

Customers run shopping sessions as small state machines (open, browse, fill a
cart, then buy or walk away), several at once and interleaved, more often in
their local active hours. Event ``i`` happens at ``start + i / rate``, so a run
is reproducible for a seed and the edge only has to shift and pace it.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, TypedDict

from stream_app.events.catalog import ItemUpdate
from stream_app.events.clickstream import (
    AddToCart,
    AppOpen,
    CheckoutStart,
    PageView,
    ProductView,
    RemoveFromCart,
    Search,
    SessionStart,
)
from stream_app.events.identity import Consent, Traits
from stream_app.events.purchase import LineItem, Purchase
from stream_app.events.registry import Event, Stream
from stream_app.events.sensor import Ambient, Location, Proximity
from stream_app.simulation.catalog import Catalog, Item, local_price
from stream_app.simulation.population import Customer, Platform

Intent = Literal["browse", "buy", "abandon"]
_IdentityStep = Literal["traits", "consent_push", "consent_email"]
Weather = Literal["clear", "clouds", "rain", "snow", "storm", "fog", "wind"]
_WEATHER: tuple[Weather, ...] = ("clear", "clouds", "rain", "storm", "fog", "wind")
_COLD_WEATHER: tuple[Weather, ...] = ("clear", "clouds", "rain", "snow", "fog", "wind")


class _ClickBase(TypedDict):
    event_id: str
    event_time: datetime
    customer_id: str
    session_id: str


class _SensorBase(TypedDict):
    event_id: str
    event_time: datetime
    device_id: str


@dataclass(frozen=True, slots=True)
class Mix:
    """Realism knobs. The defaults give about 85% clickstream, 8% sensor and 3% purchase
    events, 3 identity events per customer on first sight, and 30-40% of carts abandoned."""

    #: Share of events that are sensor readings (once some devices are registered).
    sensor_share: float = 0.08
    #: Share of sensor readings that carry only ``device_id``, no ``customer_id``.
    device_only_share: float = 0.5
    #: Mean event-time between two steps of one session; sets how many run at once.
    think_s: float = 2.0
    #: Share of sessions that put something in the cart (the rest only browse).
    cart_share: float = 0.55
    #: Per cart step, the chance of taking an item out again.
    remove_share: float = 0.08
    #: Share of abandoned carts that reached checkout before leaving.
    checkout_bail_share: float = 0.15
    #: How much likelier a session start is inside the customer's active hours.
    active_boost: float = 5.0
    #: Mean event-time a customer stays away after a session.
    mean_rest_s: float = 30.0
    #: Share of events that are catalog updates (price drops, restocks) of viewed items.
    catalog_share: float = 0.003


@dataclass(slots=True, eq=False)
class _Session:
    """Where one customer is in one visit."""

    customer: int
    session_id: str
    platform: Platform
    intent: Intent
    steps_left: int
    cart_goal: int
    identity: deque[_IdentityStep]
    opened: bool = False
    checkout_started: bool = False
    done: bool = False
    last_viewed: Item | None = None
    cart: dict[str, tuple[Item, int]] = field(default_factory=dict)


class EventGenerator(Iterator[tuple[Stream, Event]]):
    """An endless iterator of ``(stream, event)`` in non-decreasing event time.

    Each customer's first event is preceded by their identity ``traits`` (which
    register their devices) and ``consent`` events; device-only sensor readings
    only come from registered devices. Tastes and active hours are read from the
    customer at each step, so a customer whose record changes changes behaviour.
    """

    def __init__(
        self,
        customers: Sequence[Customer],
        catalog: Catalog,
        seed: int,
        start: datetime,
        rate: float,
        *,
        mix: Mix | None = None,
    ) -> None:
        if not customers:
            raise ValueError("need at least one customer")
        if rate <= 0:
            raise ValueError("rate must be > 0")
        if start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        self._customers = list(customers)
        self._catalog = catalog
        self._start = start.astimezone(UTC)
        self._rate = rate
        self._mix = mix or Mix()
        self._rng = random.Random(f"events:{seed}")
        self._index = 0
        self._target_sessions = max(1, round(rate * self._mix.think_s))
        self._sessions: list[_Session] = []
        self._idle = list(range(len(self._customers)))
        self._available_at = [0.0] * len(self._customers)
        self._introduced: list[int] = []
        self._known: set[int] = set()
        self._viewed: deque[Item] = deque(maxlen=500)
        #: Catalog state the stream has announced: item id -> (price in EUR, in stock).
        self._listed: dict[str, tuple[float, bool]] = {}

    def __iter__(self) -> EventGenerator:
        return self

    def __next__(self) -> tuple[Stream, Event]:
        offset = self._index / self._rate
        self._index += 1
        now = self._start + timedelta(seconds=offset)
        rng = self._rng
        if self._introduced and rng.random() < self._mix.sensor_share:
            return Stream.SENSOR, self._sensor(now)
        if self._viewed and rng.random() < self._mix.catalog_share:
            return Stream.CATALOG, self._item_update(now)
        session = None
        if len(self._sessions) < self._target_sessions:
            slot = self._pick_idle(offset, now)
            if slot is not None:
                session = self._start_session(slot)
        while True:
            if session is None:
                if self._sessions:
                    session = rng.choice(self._sessions)
                else:  # everyone is resting: the one picked cuts their rest short
                    session = self._start_session(rng.randrange(len(self._idle)))
            out = self._advance(session, offset, now)
            if out is not None:
                return out
            session = None

    # --- sessions -------------------------------------------------------

    def _start_session(self, slot: int) -> _Session:
        """Open a visit for the idle customer at ``slot``: intent, device, length."""
        index = self._idle[slot]
        self._idle[slot] = self._idle[-1]
        self._idle.pop()
        customer = self._customers[index]
        rng = self._rng
        intent: Intent = "browse"
        if rng.random() < self._mix.cart_share:
            intent = "abandon" if rng.random() < customer.cart_abandon_propensity else "buy"
        identity: deque[_IdentityStep] = deque()
        if index not in self._known:
            self._known.add(index)
            identity.extend(("traits", "consent_push", "consent_email"))
        session = _Session(
            customer=index,
            session_id=f"s-{rng.getrandbits(64):016x}",
            platform=rng.choice(customer.screens),
            intent=intent,
            steps_left=1 + min(20, int(rng.expovariate(1 / 4))),
            cart_goal=rng.choices((1, 2, 3, 4), weights=(55, 27, 12, 6))[0],
            identity=identity,
        )
        self._sessions.append(session)
        return session

    def _pick_idle(self, offset: float, now: datetime) -> int | None:
        """A rested idle customer, likelier when active and heavy users; maybe none.

        Rejection sampling keeps this O(1) however large the population.
        """
        rng = self._rng
        for _ in range(min(32, 4 * len(self._idle))):
            slot = rng.randrange(len(self._idle))
            customer = self._customers[self._idle[slot]]
            if self._available_at[self._idle[slot]] > offset:
                continue
            weight = min(1.0, customer.activity / 2)
            if not customer.is_active_at(now):
                weight /= self._mix.active_boost
            if rng.random() < weight:
                return slot
        return None

    def _advance(
        self, session: _Session, offset: float, now: datetime
    ) -> tuple[Stream, Event] | None:
        """One step of ``session``; ``None`` when the customer silently leaves."""
        out = self._step(session, now)
        if out is None or session.done:
            self._sessions.remove(session)
            self._idle.append(session.customer)
            self._available_at[session.customer] = offset + self._rng.expovariate(
                1 / self._mix.mean_rest_s
            )
        return out

    def _step(self, s: _Session, now: datetime) -> tuple[Stream, Event] | None:
        customer = self._customers[s.customer]
        rng = self._rng
        if s.identity:
            return Stream.IDENTITY, self._identity(s.identity.popleft(), s.customer, now)
        if not s.opened:
            s.opened = True
            return Stream.CLICKSTREAM, self._open(s, customer, now)
        if s.checkout_started:
            if s.intent == "abandon":
                return None
            s.done = True
            return Stream.PURCHASE, self._purchase(customer, s, now)
        if s.intent == "browse" and s.steps_left <= 0:
            return None
        if s.intent != "browse" and s.steps_left <= 0 and len(s.cart) >= s.cart_goal:
            if s.intent == "buy" or rng.random() < self._mix.checkout_bail_share:
                s.checkout_started = True
                return Stream.CLICKSTREAM, CheckoutStart(
                    type="checkout_start",
                    cart_value=_total(s.cart, customer.currency),
                    **self._click_base(customer, s, now),
                )
            return None
        if s.cart and rng.random() < self._mix.remove_share:
            item, quantity = s.cart.pop(rng.choice(sorted(s.cart)))
            return Stream.CLICKSTREAM, RemoveFromCart(
                type="remove_from_cart",
                item_id=item.item_id,
                quantity=quantity,
                **self._click_base(customer, s, now),
            )
        viewed = s.last_viewed
        if (
            s.intent != "browse"
            and viewed is not None
            and viewed.item_id not in s.cart
            and len(s.cart) < s.cart_goal
            and rng.random() < 0.5
        ):
            quantity = rng.randint(1, 4) if viewed.category == "grocery" else 1
            s.cart[viewed.item_id] = (viewed, quantity)
            return Stream.CLICKSTREAM, AddToCart(
                type="add_to_cart",
                item_id=viewed.item_id,
                category=viewed.category,
                price=local_price(viewed, customer.currency),
                quantity=quantity,
                brand=viewed.brand,
                **self._click_base(customer, s, now),
            )
        s.steps_left -= 1
        return Stream.CLICKSTREAM, self._browse(customer, s, now)

    def _open(self, s: _Session, customer: Customer, now: datetime) -> Event:
        base = self._click_base(customer, s, now)
        if s.platform == "web":
            return SessionStart(type="session_start", platform="web", **base)
        return AppOpen(type="app_open", platform=s.platform, **base)

    def _browse(self, customer: Customer, s: _Session, now: datetime) -> Event:
        """Mostly product views; some category/home pages and searches in between."""
        rng = self._rng
        base = self._click_base(customer, s, now)
        category = self._favoured_category(customer)
        roll = rng.random()
        if roll < 0.62:
            item = self._pick_item(customer, category)
            s.last_viewed = item
            self._viewed.append(item)
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
        spec = self._catalog.specs[category]
        query = rng.choice(spec.search_terms)
        if rng.random() < 0.25:
            query = f"{rng.choice(spec.brands).lower()} {query}"
        return Search(type="search", query=query, **base)

    def _item_update(self, now: datetime) -> ItemUpdate:
        """The catalog moves for a recently viewed item: first its listing, then price
        drops (10-30%), returns to list price, or stock running out and coming back."""
        rng = self._rng
        item = rng.choice(self._viewed)
        price, in_stock = self._listed.get(item.item_id, (item.price_eur, True))
        if item.item_id in self._listed:
            roll = rng.random()
            if not in_stock or roll < 0.2:
                in_stock = not in_stock
            elif price < item.price_eur and roll < 0.5:
                price = item.price_eur
            else:
                price = round(item.price_eur * rng.uniform(0.7, 0.9), 2)
        self._listed[item.item_id] = (price, in_stock)
        return ItemUpdate(
            type="item_update",
            event_id=self._event_id(),
            event_time=now,
            item_id=item.item_id,
            category=item.category,
            price=price,
            currency="EUR",
            in_stock=in_stock,
        )

    def _favoured_category(self, customer: Customer) -> str:
        names = [name for name, _ in customer.tastes]
        weights = [weight for _, weight in customer.tastes]
        return self._rng.choices(names, weights=weights)[0]

    def _pick_item(self, customer: Customer, category: str) -> Item:
        """Price-sensitive customers mostly end up on the cheapest of a few candidates."""
        candidates = self._rng.sample(self._catalog.by_category[category], 3)
        if self._rng.random() < customer.price_sensitivity:
            return min(candidates, key=lambda item: item.price_eur)
        return candidates[0]

    def _purchase(self, customer: Customer, s: _Session, now: datetime) -> Purchase:
        lines = [
            LineItem(
                item_id=item.item_id,
                category=item.category,
                quantity=quantity,
                unit_price=local_price(item, customer.currency),
                brand=item.brand,
            )
            for item, quantity in s.cart.values()
        ]
        return Purchase(
            type="purchase",
            event_id=self._event_id(),
            event_time=now,
            customer_id=customer.customer_id,
            order_id=f"ord-{self._rng.getrandbits(64):016x}",
            items=lines,
            total=_total(s.cart, customer.currency),
            currency=customer.currency,
        )

    def _click_base(self, customer: Customer, s: _Session, now: datetime) -> _ClickBase:
        return {
            "event_id": self._event_id(),
            "event_time": now,
            "customer_id": customer.customer_id,
            "session_id": s.session_id,
        }

    # --- identity and sensors -----------------------------------------

    def _identity(self, step: _IdentityStep, index: int, now: datetime) -> Event:
        customer = self._customers[index]
        if step == "traits":
            self._introduced.append(index)
            return Traits(
                type="traits",
                event_id=self._event_id(),
                event_time=now,
                customer_id=customer.customer_id,
                timezone=customer.timezone,
                locale=customer.locale,
                birth_year=customer.birth_year,
                gender=customer.gender,
                email=customer.email,
                phone=customer.phone,
                device_ids=list(customer.device_ids),
            )
        push = step == "consent_push"
        return Consent(
            type="consent",
            event_id=self._event_id(),
            event_time=now,
            customer_id=customer.customer_id,
            channel="push" if push else "email",
            opted_in=customer.push_opt_in if push else customer.email_opt_in,
            source="app_onboarding" if push else "signup_form",
        )

    def _sensor(self, now: datetime) -> Event:
        """A reading from a registered phone or watch, near the customer's home city."""
        rng = self._rng
        customer = self._customers[rng.choice(self._introduced)]
        device = rng.choice([d for d in customer.devices if d.kind != "web"])
        customer_id = None if rng.random() < self._mix.device_only_share else customer.customer_id
        city = customer.city
        base: _SensorBase = {
            "event_id": self._event_id(),
            "event_time": now,
            "device_id": device.device_id,
        }
        roll = rng.random()
        if roll < 0.5:
            return Location(
                type="location",
                customer_id=customer_id,
                lat=max(-90.0, min(90.0, city.lat + rng.gauss(0, 0.03))),
                lon=max(-180.0, min(180.0, city.lon + rng.gauss(0, 0.04))),
                accuracy_m=round(rng.uniform(3, 60), 1),
                **base,
            )
        if roll < 0.8:
            store = rng.randint(1, 5)
            return Proximity(
                type="proximity",
                customer_id=customer_id,
                store_id=f"store-{city.slug}-{store:02d}",
                beacon_id=f"bcn-{city.slug}-{store:02d}-{rng.randint(1, 4)}",
                distance_m=round(min(500.0, rng.expovariate(1 / 15)), 1),
                **base,
            )
        temperature = max(-40.0, min(50.0, city.mean_temp_c + rng.gauss(0, 6)))
        weathers = _COLD_WEATHER if temperature < 1 else _WEATHER
        weather = rng.choices(weathers, weights=(35, 30, 18, 5, 5, 7))[0]
        return Ambient(
            type="ambient",
            customer_id=customer_id,
            temperature_c=round(temperature, 1),
            weather=weather,
            humidity_pct=round(rng.uniform(30, 95)),
            **base,
        )

    def _event_id(self) -> str:
        return f"ev-{self._rng.getrandbits(64):016x}"


def _total(cart: dict[str, tuple[Item, int]], currency: str) -> float:
    return round(sum(local_price(item, currency) * quantity for item, quantity in cart.values()), 2)
