"""Batch recomputation of customer profiles from an event log, straight from docs/profile.md.

Independent of the streaming code on purpose: it imports only the event
contracts, ``pseudonymize`` (which the spec defines tokens by) and settings,
and never the fold or the storage scripts. Events are given in the order the
engine would apply them (acceptance of late events and the device mapping
depend on it); everything else is order-independent by the spec. A reading of a
device nobody registered yet waits (``PARKED``) until traits register it, then is
applied; ``expire`` ends the grace of those still waiting (``UNKNOWN_DEVICE``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

import pygeohash

from stream_app.events.catalog import ItemUpdate
from stream_app.events.clickstream import (
    AddToCart,
    AddToWishlist,
    ClickEvent,
    PageView,
    ProductView,
    RemoveFromCart,
    RemoveFromWishlist,
    Search,
)
from stream_app.events.feedback import Clicked, FeedbackBase, Opened
from stream_app.events.identity import Consent, Traits
from stream_app.events.purchase import Purchase
from stream_app.events.registry import Event
from stream_app.events.returns import OrderReversal
from stream_app.events.sensor import Ambient, Location, Proximity, SensorEvent
from stream_app.profiles.pseudonym import pseudonymize
from tests.oracle.config import MS_PER_DAY, OracleConfig
from tests.oracle.funnel import active_fields, first_touch, host, period_index

Scalar = int | float | str

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS_PER_HOUR = 3_600_000
HOURS_PER_WEEK = 168
#: 1970-01-01 was a Thursday: hour 0 of the epoch is hour 3 * 24 of its week.
GEOHASH_PRECISION = 7

#: Fields of the profile hash that are sums or counts: absent means 0.
ADDITIVE_PREFIXES = ("n:", "spend:", "returned:", "units:", "units_value:")
ADDITIVE_FIELDS = frozenset({"n", "returned_units", "returned_orders"})
#: ISO 4217 minor-unit exponents that are not 2 (the ones the spec's currencies use).
MINOR_EXPONENT = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3}


def minor(amount: float, currency: str) -> int:
    """``amount`` in integer minor units, from its shortest decimal text, half to even."""
    places = MINOR_EXPONENT.get(currency, 2)
    exact = Decimal(repr(amount)).scaleb(places)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def base_value(amounts: Mapping[str, int], config: OracleConfig) -> float:
    """Minor-unit amounts per currency in the base currency; unrated currencies: nothing."""
    total = 0.0
    for currency, units in amounts.items():
        rate = config.fx_to_base.get(currency)
        if rate is None and currency == config.base_currency:
            rate = 1.0
        if rate is not None:
            total += units / 10 ** MINOR_EXPONENT.get(currency, 2) * rate
    return total


def is_additive(name: str) -> bool:
    return name in ADDITIVE_FIELDS or name.startswith(ADDITIVE_PREFIXES)


def to_ms(when: datetime) -> int:
    """Epoch milliseconds of an aware time, rounded down (exact integer arithmetic)."""
    return (when - EPOCH) // timedelta(milliseconds=1)


def hour_of_week(ms: int, zone: str = "UTC") -> int:
    """Hour of week on the wall clock of ``zone`` at the instant ``ms``: Monday 00:00-00:59
    local is 0 (the zone's offset at that instant: DST and +05:30 exact)."""
    local = (EPOCH + timedelta(milliseconds=ms)).astimezone(ZoneInfo(zone))
    return local.weekday() * 24 + local.hour


def decay(value: float, from_ms: float, to_ms_: float, half_life_ms: float) -> float:
    """``value`` as of ``from_ms`` carried to ``to_ms_``: ``value * 2^(-(to - from)/H)``."""
    factor: float = 2.0 ** (-(to_ms_ - from_ms) / half_life_ms)
    return value * factor


def normalize_query(query: str, max_chars: int) -> str:
    """Lower case, whitespace runs collapsed to one space (ends stripped), then cut."""
    return " ".join(query.lower().split())[:max_chars]


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    LATE = "late"
    PARKED = "parked"
    UNKNOWN_DEVICE = "unknown_device"


@dataclass(frozen=True, slots=True)
class CartLine:
    """A visible cart line: the latest add's time, category, price, quantity, event id."""

    t: int
    c: str | None
    p: float | None
    q: int | None
    e: str | None


@dataclass(slots=True)
class ExpectedProfile:
    """One customer's profile, normalized for comparison.

    ``fields`` is the profile hash without ``created_ms`` and ``@<field>`` stamps;
    ``tastes`` and ``rhythm`` are decayed sums evaluated at ``at_ms``; ``cart``
    holds visible lines only. ``ties`` / ``cart_ties`` list every acceptable value
    where the spec says "ties: any"; ``*_cap`` say the top-N sets may hold any
    ``cap`` of tied candidates (expected side only; ``None`` on the Redis side).
    """

    customer_id: str
    at_ms: int
    fields: dict[str, Scalar] = field(default_factory=dict)
    ties: dict[str, tuple[Scalar, ...]] = field(default_factory=dict)
    tastes: dict[str, float] = field(default_factory=dict)
    rhythm: dict[str, float] = field(default_factory=dict)
    cart: dict[str, CartLine] = field(default_factory=dict)
    cart_ties: dict[str, tuple[CartLine, ...]] = field(default_factory=dict)
    recent_views: dict[str, int] = field(default_factory=dict)
    recent_views_cap: int | None = None
    recent_searches: dict[str, int] = field(default_factory=dict)
    recent_searches_cap: int | None = None
    #: Wishlist items kept (removed ones too) -> time of their latest event; those on it.
    wishlist: dict[str, int] = field(default_factory=dict)
    wishlist_cap: int | None = None
    wished: set[str] = field(default_factory=set)


#: docs/redis-keys.md, "Frequently bought together": orders of up to this many distinct
#: items (categories) are counted exactly; in larger ones each member draws 32 partners
#: (a sample), fewer beyond 500 members (``_drawn``): its row's total grows by as many.
BASKET_EXACT_UP_TO = 33
#: ... and a row keeps this many partners (Space-Saving, which keeps the row's total).
BASKET_KEPT = 128


@dataclass(slots=True)
class Basket:
    """Global co-purchase counts: ``items[a][b]`` = orders holding both ``a`` and ``b``.

    The store samples large orders (docs/redis-keys.md): ``sampled`` names the rows an
    order of more than ``BASKET_EXACT_UP_TO`` members touched, ``drawn`` each row's total
    as the store counts it (``items/<a>`` or ``categories/<a>``), ``full`` the stored rows
    holding ``BASKET_KEPT`` partners (Space-Saving evicts from them)."""

    items: dict[str, dict[str, float]] = field(default_factory=dict)
    categories: dict[str, dict[str, float]] = field(default_factory=dict)
    sampled: set[str] = field(default_factory=set)
    drawn: Counter[str] = field(default_factory=Counter)
    full: set[str] = field(default_factory=set)


# --- per-customer accumulation -------------------------------------------


@dataclass(slots=True)
class _Latest:
    """Last-writer-wins by event time; every value written at the greatest time is kept."""

    time: int
    values: list[object]

    def offer(self, time: int, value: object) -> None:
        if time > self.time:
            self.time, self.values = time, [value]
        elif time == self.time and value not in self.values:
            self.values.append(value)


def _offer(store: dict[str, _Latest], name: str, time: int, value: object) -> None:
    current = store.get(name)
    if current is None:
        store[name] = _Latest(time, [value])
    else:
        current.offer(time, value)


@dataclass(slots=True)
class _State:
    seen: dict[str | tuple[str, str], int] = field(default_factory=dict)
    last_seen: int | None = None
    counts: Counter[str] = field(default_factory=Counter)
    mins: dict[str, int] = field(default_factory=dict)
    maxs: dict[str, int] = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=dict)
    latest: dict[str, _Latest] = field(default_factory=dict)
    tastes: list[tuple[str, float, int]] = field(default_factory=list)
    rhythm: list[tuple[str, float, int]] = field(default_factory=list)
    #: Times of rhythmic events binned in the default zone, no zone being known yet.
    assumed: list[int] = field(default_factory=list)
    adds: dict[str, _Latest] = field(default_factory=dict)
    removes: dict[str, int] = field(default_factory=dict)
    views: dict[str, int] = field(default_factory=dict)
    searches: dict[str, int] = field(default_factory=dict)
    #: Item -> its latest wishlist event: (time, 1 if a removal (wins a tie), category).
    wishes: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    #: Order id -> its units (the largest any purchase of it said).
    order_units: dict[str, int] = field(default_factory=dict)
    #: Orders a return or cancellation undid whole; those of them whose units are the order's.
    undone: set[str] = field(default_factory=set)
    undone_itemless: set[str] = field(default_factory=set)
    returned_line_units: int = 0
    #: Cohort periods active in, and (time, referrer host) of page views (tests.oracle.funnel).
    active: set[int] = field(default_factory=set)
    pages: list[tuple[int, str]] = field(default_factory=list)

    def add(self, name: str, amount: float) -> None:
        self.sums[name] = self.sums.get(name, 0) + amount

    def low(self, name: str, time: int) -> None:
        self.mins[name] = min(time, self.mins.get(name, time))

    def high(self, name: str, time: int) -> None:
        self.maxs[name] = max(time, self.maxs.get(name, time))


class Oracle:
    """Feeds events one by one, in processing order; read ``profiles(at_ms)`` and ``basket``."""

    def __init__(self, config: OracleConfig) -> None:
        self.config = config
        self.states: dict[str, _State] = {}
        self.devices: dict[str, str] = {}
        #: Raw device id -> its readings waiting for it to be registered, by event id.
        self.parked: dict[str, dict[str, Event]] = {}
        #: Anonymous profile -> the customer it was linked to (the first link).
        self.links: dict[str, str] = {}
        self.catalog_latest: dict[str, int] = {}
        self.orders: set[str] = set()
        self.basket = Basket()
        self.outcomes: Counter[Outcome] = Counter()
        #: Rhythmic events binned in the default zone (the worker's ``tz_assumed``).
        self.tz_assumed = 0

    # --- acceptance -----------------------------------------------------

    def customer_of(self, event: Event) -> str | None:
        """The profile an event belongs to; ``None`` for a device nobody registered yet.

        docs/identity.md: an anonymous visitor's profile is ``~`` + the pseudonym of their
        anonymous id; an event naming a customer and an anonymous id links the two (the
        first link wins) and moves the visitor's history to the customer; an event naming
        only a linked anonymous id (or a device registered by its visitor) is the
        customer's."""
        customer = getattr(event, "customer_id", None)
        anonymous = getattr(event, "anonymous_id", None)
        visitor = None
        if anonymous is not None:
            visitor = "~" + pseudonymize(self.config.secret, "anon", str(anonymous))
        if customer is not None:
            if visitor is not None and visitor not in self.links:
                self.links[visitor] = str(customer)
                self._merge(str(customer), self.states.pop(visitor, None))
            return str(customer)
        if visitor is None and isinstance(event, SensorEvent) and event.device_id is not None:
            visitor = self.devices.get(event.device_id)
        return None if visitor is None else self.links.get(visitor, visitor)

    def _merge(self, customer: str, visitor: _State | None) -> None:
        """The visitor's applied events become the customer's, as if applied there."""
        if visitor is None:
            return
        s = self.states.setdefault(customer, _State())
        s.seen.update(visitor.seen)
        if visitor.last_seen is not None:
            s.last_seen = max(s.last_seen or visitor.last_seen, visitor.last_seen)
        s.counts.update(visitor.counts)
        for name, time in visitor.mins.items():
            s.low(name, time)
        for name, time in visitor.maxs.items():
            s.high(name, time)
        for name, amount in visitor.sums.items():
            s.add(name, amount)
        for name, latest in visitor.latest.items():
            for value in latest.values:
                _offer(s.latest, name, latest.time, value)
        s.tastes += visitor.tastes
        s.rhythm += visitor.rhythm
        s.assumed = self._newest(s.assumed + visitor.assumed)
        self._settle(s)
        for item, latest in visitor.adds.items():
            for value in latest.values:
                _offer(s.adds, item, latest.time, value)
        for item, time in visitor.removes.items():
            s.removes[item] = max(time, s.removes.get(item, time))
        for item, time in visitor.views.items():
            s.views[item] = max(time, s.views.get(item, time))
        for query, time in visitor.searches.items():
            s.searches[query] = max(time, s.searches.get(query, time))
        for item, wish in visitor.wishes.items():
            s.wishes[item] = max(wish, s.wishes.get(item, wish))
        for order, units in visitor.order_units.items():
            s.order_units[order] = max(units, s.order_units.get(order, units))
        s.undone |= visitor.undone
        s.undone_itemless |= visitor.undone_itemless
        s.returned_line_units += visitor.returned_line_units
        s.active |= visitor.active
        s.pages += visitor.pages

    def apply(self, event: Event) -> Outcome:
        """Accept ``event``; a reading of an unregistered device waits (once, however often
        it comes) and is accepted when traits register its device."""
        if isinstance(event, SensorEvent) and self.customer_of(event) is None:
            waiting = self.parked.setdefault(str(event.device_id), {})
            if event.event_id in waiting:
                return Outcome.PARKED
            waiting[event.event_id] = event
            return self._count(Outcome.PARKED)
        outcome = self._accept(event)
        if isinstance(event, Traits):
            for device in event.device_ids:
                if device in self.devices:
                    for reading in self.parked.pop(device, {}).values():
                        self._accept(reading)
        return outcome

    def expire(self) -> int:
        """The grace of every reading still waiting ends: each is an unknown device's."""
        expired = sum(len(waiting) for waiting in self.parked.values())
        self.parked.clear()
        self.outcomes[Outcome.UNKNOWN_DEVICE] += expired
        return expired

    def _accept(self, event: Event) -> Outcome:
        if isinstance(event, ItemUpdate):
            # The catalog is last-write-wins by event time: an update that is not newer
            # than the item's latest one (its replay, or an older one) changes nothing.
            ms = to_ms(event.event_time)
            latest = self.catalog_latest.get(event.item_id)
            if latest is not None and ms <= latest:
                return self._count(Outcome.DUPLICATE)
            self.catalog_latest[event.item_id] = ms
            return self._count(Outcome.APPLIED)
        customer = self.customer_of(event)
        if customer is None:
            return self._count(Outcome.UNKNOWN_DEVICE)
        state = self.states.setdefault(customer, _State())
        time = to_ms(event.event_time)
        horizon = (
            None if state.last_seen is None else state.last_seen - self.config.allowed_lateness_ms
        )
        # A return is one per return id, whatever event carries it.
        identity = (
            ("return", event.return_id) if isinstance(event, OrderReversal) else event.event_id
        )
        remembered = state.seen.get(identity)
        # Orders' and returns' ids are remembered for the profile's life (and applied at
        # any age), any other for the window.
        lifelong = isinstance(event, Purchase | OrderReversal)
        if remembered is not None and (lifelong or horizon is None or remembered >= horizon):
            return self._count(Outcome.DUPLICATE)
        if horizon is not None and time < horizon and not lifelong:
            return self._count(Outcome.LATE)
        state.seen[identity] = time
        state.last_seen = time if state.last_seen is None else max(state.last_seen, time)
        self._effects(customer, state, event, time)
        self._settle(state)
        return self._count(Outcome.APPLIED)

    def _count(self, outcome: Outcome) -> Outcome:
        self.outcomes[outcome] += 1
        return outcome

    # --- effects ----------------------------------------------------------

    def _effects(self, customer: str, s: _State, event: Event, time: int) -> None:
        cfg = self.config
        kind = event.type
        s.counts["n"] += 1
        s.counts[f"n:{kind}"] += 1
        s.low("first_seen", time)
        s.high("last_seen", time)
        if isinstance(event, ClickEvent | Purchase | OrderReversal | FeedbackBase):
            s.high(f"last:{kind}", time)
        if isinstance(event, ClickEvent | Purchase | Opened | Clicked):
            if "timezone" not in s.latest:
                s.assumed = self._newest([*s.assumed, time])
            s.rhythm.append((str(hour_of_week(time, self._zone(s))), 1.0, time))
            s.active.add(period_index(time, cfg.funnel_period))
        if isinstance(event, PageView):
            s.pages.append((time, host(event.referrer)))
        if isinstance(event, ProductView):
            self._taste(s, event.category, event.brand, cfg.w_view, time)
            s.views[event.item_id] = max(time, s.views.get(event.item_id, time))
        elif isinstance(event, AddToCart):
            self._taste(s, event.category, event.brand, cfg.w_cart, time)
            line = CartLine(time, event.category, event.price, event.quantity, event.event_id)
            _offer(s.adds, event.item_id, time, line)
        elif isinstance(event, RemoveFromCart):
            s.removes[event.item_id] = max(time, s.removes.get(event.item_id, time))
        elif isinstance(event, AddToWishlist | RemoveFromWishlist):
            self._wish(s, event, time)
        elif isinstance(event, Search):
            query = normalize_query(event.query, cfg.search_max_chars)
            if query:
                s.searches[query] = max(time, s.searches.get(query, time))
        elif isinstance(event, Purchase):
            self._purchase(s, event, time)
        elif isinstance(event, OrderReversal):
            _reversal(s, event)
        elif isinstance(event, Traits):
            self._traits(customer, s, event, time)
        elif isinstance(event, Consent):
            _offer(s.latest, f"consent:{event.channel}", time, "1" if event.opted_in else "0")
        elif isinstance(event, Location):
            geo = pygeohash.encode(event.lat, event.lon, precision=GEOHASH_PRECISION)
            _offer(s.latest, "geo", time, geo)
        elif isinstance(event, Proximity):
            _offer(s.latest, "near_store", time, event.store_id)
            _offer(s.latest, "store_distance_m", time, float(event.distance_m))
        elif isinstance(event, Ambient):
            _offer(s.latest, "weather", time, event.weather)
            _offer(s.latest, "temperature_c", time, round(event.temperature_c, 1))

    def _newest(self, times: list[int]) -> list[int]:
        ordered = sorted(times)
        return ordered[max(len(ordered) - self.config.zone_pending, 0) :]

    def _settle(self, s: _State) -> None:
        """Once a zone is known, the events binned in the default zone before it are
        binned in it instead (profile.md, Rhythm)."""
        if not s.assumed or "timezone" not in s.latest:
            return
        known = str(s.latest["timezone"].values[-1])
        for time in s.assumed:
            s.rhythm.remove((str(hour_of_week(time, self.config.default_timezone)), 1.0, time))
            s.rhythm.append((str(hour_of_week(time, known)), 1.0, time))
        s.assumed = []

    def _zone(self, s: _State) -> str:
        """The zone known when the event is applied: the latest ``timezone`` trait (at
        equal times the last applied, as the worker's last writer), else the default."""
        known = s.latest.get("timezone")
        if known is None:
            self.tz_assumed += 1
            return self.config.default_timezone
        return str(known.values[-1])

    def _taste(self, s: _State, category: str, brand: str | None, weight: float, time: int) -> None:
        s.tastes.append((f"c:{category}", weight, time))
        if brand is not None:
            s.tastes.append((f"b:{brand}", weight, time))

    def _wish(self, s: _State, event: AddToWishlist | RemoveFromWishlist, time: int) -> None:
        if isinstance(event, AddToWishlist):
            self._taste(s, event.category, event.brand, self.config.w_wishlist, time)
            wish = (time, 0, event.category)
        else:
            wish = (time, 1, "")
        s.wishes[event.item_id] = max(wish, s.wishes.get(event.item_id, wish))

    def _purchase(self, s: _State, event: Purchase, time: int) -> None:
        cfg = self.config
        for name in ("country", "region", "locale"):
            value = getattr(event, name)
            if value is not None:
                _offer(s.latest, name, time, value)
        s.low("first:purchase", time)
        cur = event.currency
        s.add(f"spend:{cur}", minor(event.total, cur))
        units = sum(line.quantity for line in event.items)
        s.order_units[event.order_id] = max(units, s.order_units.get(event.order_id, 0))
        for line in event.items:
            s.add(f"units:{cur}", line.quantity)
            s.add(f"units_value:{cur}", line.quantity * minor(line.unit_price, cur))
            self._taste(s, line.category, line.brand, cfg.w_purchase, time)
        if event.order_id in self.orders:
            return
        self.orders.add(event.order_id)
        _pairs(self.basket, "items", {line.item_id for line in event.items})
        _pairs(self.basket, "categories", {line.category for line in event.items})

    def _traits(self, customer: str, s: _State, event: Traits, time: int) -> None:
        secret = self.config.secret
        for name in ("timezone", "locale", "country", "region", "birth_year", "gender"):
            value = getattr(event, name)
            if value is not None:
                _offer(s.latest, name, time, value)
        if event.email is not None:
            _offer(s.latest, "h:email", time, pseudonymize(secret, "email", event.email))
        if event.phone is not None:
            _offer(s.latest, "h:phone", time, pseudonymize(secret, "phone", event.phone))
        for device in event.device_ids:
            self.devices[device] = customer

    # --- results ----------------------------------------------------------

    def profiles(self, at_ms: int) -> dict[str, ExpectedProfile]:
        return {
            customer: self._profile(customer, state, at_ms)
            for customer, state in self.states.items()
            if state.counts["n"] > 0
        }

    def _profile(self, customer: str, s: _State, at_ms: int) -> ExpectedProfile:
        cfg = self.config
        out = ExpectedProfile(customer, at_ms)
        fields_: dict[str, Scalar] = {}
        fields_.update(s.counts)
        fields_.update(s.mins)
        fields_.update(s.maxs)
        fields_.update(s.sums)
        known = s.order_units
        fields_["returned_orders"] = len(s.undone & known.keys())
        fields_["returned_units"] = s.returned_line_units + sum(
            known[o] for o in s.undone_itemless & known.keys()
        )
        fields_.update(active_fields(s.active, cfg.active_periods))
        fields_.update(first_touch(s.pages))
        for name, latest in s.latest.items():
            values = tuple(_scalar(v) for v in latest.values)
            fields_[name] = values[0]
            if len(values) > 1:
                out.ties[name] = values
        out.fields = fields_
        out.tastes = _decayed(s.tastes, at_ms, cfg.taste_half_life_ms)
        out.rhythm = _decayed(s.rhythm, at_ms, cfg.rhythm_half_life_ms)
        last_purchase = s.maxs.get("last:purchase")
        for item, latest in s.adds.items():
            removed = s.removes.get(item)
            if removed is not None and latest.time <= removed:
                continue
            if last_purchase is not None and latest.time <= last_purchase:
                continue
            lines = tuple(v for v in latest.values if isinstance(v, CartLine))
            out.cart[item] = lines[0]
            if len(lines) > 1:
                out.cart_ties[item] = lines
        out.recent_views = _top(s.views, cfg.recent_views)
        out.recent_views_cap = cfg.recent_views
        out.recent_searches = _top(s.searches, cfg.recent_searches)
        out.recent_searches_cap = cfg.recent_searches
        out.wishlist = _top({i: w[0] for i, w in s.wishes.items()}, cfg.wishlist_size)
        out.wishlist_cap = cfg.wishlist_size
        out.wished = {item for item in out.wishlist if not s.wishes[item][1]}
        return out


def _reversal(s: _State, event: OrderReversal) -> None:
    """docs/profile.md "Returns": money back per currency; units back unless a refund (the
    lines', or the whole order's); a cancellation or an itemless return undoes the order."""
    if event.amount:
        s.add(f"returned:{event.currency}", minor(event.amount, event.currency))
    if event.type == "refund":
        return
    if event.items is not None:
        s.returned_line_units += sum(line.quantity for line in event.items)
    else:
        s.undone_itemless.add(event.order_id)
    if event.type == "cancellation" or event.items is None:
        s.undone.add(event.order_id)


def _scalar(value: object) -> Scalar:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | str):
        return value
    return str(value)


def _drawn(n: int) -> int:
    """Partners each member of an order of ``n`` draws: all others up to 32, at most
    16,000 per order (an even number, at least 2)."""
    return min(n - 1, max(2, min(32, 16_000 // n)) // 2 * 2)


def _pairs(basket: Basket, what: str, members: set[str]) -> None:
    counts: dict[str, dict[str, float]] = getattr(basket, what)
    if len(members) > BASKET_EXACT_UP_TO:
        basket.sampled.update(f"{what}/{a}" for a in members)
    for a in members:
        basket.drawn[f"{what}/{a}"] += _drawn(len(members))
        row = counts.setdefault(a, {})
        for b in members:
            if a != b:
                row[b] = row.get(b, 0) + 1


def _decayed(
    parts: Iterable[tuple[str, float, int]], at_ms: int, half_life: int
) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, weight, time in parts:
        out[name] = out.get(name, 0.0) + decay(weight, time, at_ms, half_life)
    return out


def _top(times: Mapping[str, int], cap: int) -> dict[str, int]:
    """The ``cap`` most recent members, plus any tied with the last one kept (ties: any)."""
    if len(times) <= cap:
        return dict(times)
    if cap <= 0:
        return {}
    cutoff = sorted(times.values(), reverse=True)[cap - 1]
    return {member: time for member, time in times.items() if time >= cutoff}


def recompute(
    events: Iterable[Event], config: OracleConfig, *, at_ms: int | None = None
) -> dict[str, ExpectedProfile]:
    """Profiles of every customer with an applied event; decayed sums evaluated at ``at_ms``
    (default: the greatest applied event time)."""
    oracle = Oracle(config)
    for event in events:
        oracle.apply(event)
    if at_ms is None:
        at_ms = max((s.last_seen or 0 for s in oracle.states.values()), default=0)
    return oracle.profiles(at_ms)


# --- derived at read time -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Derived:
    """docs/profile.md "Derived at read time"; times in epoch ms, durations in days."""

    orders: int
    recency_days: float | None
    frequency: int
    monetary: float
    aov: float | None
    avg_unit_price: float | None
    price_band: str | None
    r: int
    f: int
    m: int
    tier: str
    interval_days: float
    lifecycle: str
    next_purchase_due: float | None
    age: int | None
    tastes: dict[str, float]
    top_categories: list[str]
    rhythm_local: dict[int, float]


def _num(fields_: Mapping[str, Scalar], name: str) -> float | None:
    value = fields_.get(name)
    return None if value is None else float(value)


def _per_currency(fields_: Mapping[str, Scalar], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: int(v) for k, v in fields_.items() if k.startswith(prefix)}


def _score(value: float | None, bounds: tuple[float, ...], *, at_most: bool) -> int:
    if value is None:
        return 1
    for score, bound in zip((5, 4, 3, 2), bounds, strict=True):
        if (value <= bound) if at_most else (value >= bound):
            return score
    return 1


def derive(profile: ExpectedProfile, now_ms: int, config: OracleConfig) -> Derived:
    """The read-time fields: pure functions of the stored fields and ``now``."""
    f_ = profile.fields
    bought = int(_num(f_, "n:purchase") or 0)
    orders = max(bought - int(_num(f_, "returned_orders") or 0), 0)
    money = {p: _per_currency(f_, p) for p in ("spend:", "returned:", "units:", "units_value:")}
    net = {
        c: money["spend:"].get(c, 0) - money["returned:"].get(c, 0)
        for c in money["spend:"].keys() | money["returned:"].keys()
    }
    value = base_value(net, config)
    last_purchase = _num(f_, "last:purchase")
    first_purchase = _num(f_, "first:purchase")
    first_seen = _num(f_, "first_seen")
    last_seen = _num(f_, "last_seen")
    rated = config.fx_to_base.keys() | {config.base_currency}
    units = sum(n for c, n in money["units:"].items() if c in rated)
    units_value = base_value(money["units_value:"], config)
    recency = None if last_purchase is None else (now_ms - last_purchase) / MS_PER_DAY
    avg_price = units_value / units if units else None
    band = None
    if avg_price is not None:
        band = (
            "budget"
            if avg_price < config.price_budget_below
            else "mid"
            if avg_price < config.price_mid_below
            else "premium"
        )
    r = _score(recency, config.recency_days, at_most=True)
    f = _score(float(orders), tuple(float(x) for x in config.frequency_orders), at_most=False)
    m = _score(value, config.monetary_value, at_most=False)
    is_new = (
        orders <= 1
        and first_seen is not None
        and (now_ms - first_seen) / MS_PER_DAY <= config.new_days
    )
    if r >= 4 and f >= 4 and m >= 4:
        tier = "vip"
    elif f >= 3 and r >= 3:
        tier = "loyal"
    elif is_new:
        tier = "new"
    else:
        tier = "regular"
    if bought >= 2 and last_purchase is not None and first_purchase is not None:
        interval = (last_purchase - first_purchase) / (bought - 1) / MS_PER_DAY
    else:
        interval = config.default_interval_days
    if is_new:
        lifecycle = "new"
    else:
        since = last_purchase if last_purchase is not None else last_seen
        elapsed = math.inf if since is None else (now_ms - since) / MS_PER_DAY
        if elapsed <= config.active_factor * interval:
            lifecycle = "active"
        elif elapsed <= config.at_risk_factor * interval:
            lifecycle = "at_risk"
        elif elapsed <= config.lapsed_factor * interval:
            lifecycle = "lapsed"
        else:
            lifecycle = "churned"
    due = None if last_purchase is None else last_purchase + interval * MS_PER_DAY
    birth_year = f_.get("birth_year")
    now = EPOCH + timedelta(milliseconds=now_ms)
    age = None if birth_year is None else now.year - int(birth_year)
    tastes = {
        name: decay(total, profile.at_ms, now_ms, config.taste_half_life_ms)
        for name, total in profile.tastes.items()
    }
    top = sorted((name for name in tastes if name.startswith("c:")), key=lambda n: (-tastes[n], n))
    rhythm_local = {  # binned local when applied: nothing to shift
        int(hour): decay(total, profile.at_ms, now_ms, config.rhythm_half_life_ms)
        for hour, total in profile.rhythm.items()
    }
    return Derived(
        orders=orders,
        recency_days=recency,
        frequency=orders,
        monetary=value,
        aov=value / orders if orders else None,
        avg_unit_price=avg_price,
        price_band=band,
        r=r,
        f=f,
        m=m,
        tier=tier,
        interval_days=interval,
        lifecycle=lifecycle,
        next_purchase_due=due,
        age=age,
        tastes=tastes,
        top_categories=[name.removeprefix("c:") for name in top],
        rhythm_local=rhythm_local,
    )
