"""The profile fold: event -> ``ProfileUpdate`` (docs/profile.md). Pure and fast (per event)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple, get_args

from stream_app.clock import to_ms
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
from stream_app.events.feedback import Clicked, Converted, FeedbackBase, Opened
from stream_app.events.identity import Consent, Traits
from stream_app.events.purchase import Purchase
from stream_app.events.registry import STREAM_EVENTS, Event
from stream_app.events.returns import OrderReversal
from stream_app.events.reviews import Remark
from stream_app.events.sensor import Ambient, Location, Proximity
from stream_app.profiles.cohorts import PERIOD, SOURCE_FIELD, Period, period_of, referrer_host
from stream_app.profiles.geo import geohash
from stream_app.profiles.money import minor_scale, to_minor
from stream_app.profiles.mood import remark_ops
from stream_app.profiles.ops import (
    Active,
    CartAdd,
    CartClear,
    CartRemove,
    DecayAdd,
    FirstWrite,
    Incr,
    LastWrite,
    Min,
    Order,
    OrderMark,
    ProfileOp,
    ProfileUpdate,
    Recent,
    Touch,
    Wish,
)
from stream_app.profiles.pseudonym import pseudonymize

_SPACES = re.compile(r"\s+")

# Precomputed for the hot path: per event type, its count field, the ``last:<type>`` field
# (clickstream, purchase and feedback events keep one) and whether it marks the rhythm.
_STAMPED = (ClickEvent, Purchase, OrderReversal, FeedbackBase)
_RHYTHMIC = (ClickEvent, Purchase, Opened, Clicked)
_HEADS: dict[str, tuple[str, str | None, bool]] = {
    name: (
        f"n:{name}",
        f"last:{name}" if issubclass(member, _STAMPED) else None,
        issubclass(member, _RHYTHMIC),
    )
    for stream in STREAM_EVENTS.values()
    for member in get_args(get_args(stream)[0]) or (get_args(stream)[0],)
    for name in get_args(member.model_fields["type"].annotation)
}
#: The count fields of the event types that mark the rhythm (``profiles.invariants``).
RHYTHMIC_COUNTS = frozenset(count for count, _, rhythmic in _HEADS.values() if rhythmic)


@dataclass(frozen=True, slots=True)
class FoldConfig:
    """What the fold needs from settings."""

    pseudonym_secret: bytes
    #: When a cart is checked after an addition; None: no campaign reminds of carts.
    cart_abandon_delay: timedelta | None
    taste_weight_view: float = 1.0
    taste_weight_cart: float = 3.0
    taste_weight_purchase: float = 5.0
    taste_weight_wishlist: float = 4.0
    #: A remark this negative or worse is a complaint (``profiles.mood``).
    negative_below: float = -0.3
    #: The cohort period activity is marked in (``profiles.cohorts``).
    active_period: Period = PERIOD


def normalize_query(query: str) -> str:
    """Search queries as stored: lower case, single spaces, at most 64 characters.

    >>> normalize_query("  Red   SUV ")
    'red suv'
    """
    return _SPACES.sub(" ", query.strip().lower())[:64]


def fold(
    event: Event,
    customer_id: str,
    config: FoldConfig,
    ms: int | None = None,
    polarity: float | None = None,
) -> ProfileUpdate:
    """The update one event makes to its customer's profile.

    ``customer_id`` is passed in because sensor events may name only a device,
    resolved to a customer by the caller; ``ms``, the event time in epoch ms, when the
    caller has it already; ``polarity``, a review's or comment's as the pass scored it
    (None: not scored, e.g. a foreign language without rating: only counted).

    >>> from datetime import UTC, datetime
    >>> from stream_app.events.clickstream import AppOpen
    >>> e = AppOpen(type="app_open", event_id="e1", customer_id="c1",
    ...             event_time=datetime(2026, 1, 1, tzinfo=UTC))
    >>> fold(e, "c1", FoldConfig(b"k", timedelta(0))).ops  # doctest: +NORMALIZE_WHITESPACE
    (Touch(count_field='n:app_open', ms=1767225600000, last_field='last:app_open', rhythmic=True),
     Active(period=2922))
    """
    if ms is None:
        ms = to_ms(event.event_time)
    count_field, last_field, rhythmic = _HEADS[event.type]
    ops: list[ProfileOp] = [Touch(count_field, ms, last_field, rhythmic)]
    if rhythmic:
        ops.append(Active(period_of(ms, config.active_period)))
    specific = _SPECIFIC.get(type(event))
    extra = specific(event, ms, config, ops) if specific is not None else _NOTHING
    if polarity is not None and isinstance(event, Remark):
        ops.extend(remark_ops(event, polarity, ms, config.negative_below))
    engaged = event.decision_id if isinstance(event, Clicked | Converted) else None
    event_id = event.event_id
    if extra.reversal and isinstance(event, OrderReversal):
        event_id = f"return/{event.return_id}"
    return ProfileUpdate(customer_id, event_id, ms, tuple(ops), *extra, engaged)


class _Extra(NamedTuple):
    """What an event changes besides its ops."""

    devices: tuple[str, ...] = ()
    cart_due: int | None = None
    order: Order | None = None
    reversal: bool = False


_NOTHING = _Extra()


def _paged(event: PageView, ms: int, config: FoldConfig, ops: list[ProfileOp]) -> _Extra:
    """The earliest page view's referrer host is the first-touch source (docs/reports.md)."""
    ops.append(FirstWrite(SOURCE_FIELD, referrer_host(event.referrer), ms))
    return _NOTHING


def _viewed(event: ProductView, ms: int, config: FoldConfig, ops: list[ProfileOp]) -> _Extra:
    ops.append(Recent("views", event.item_id, ms, event.category))
    ops.extend(_tastes(event.category, event.brand, config.taste_weight_view, ms))
    return _NOTHING


def _added(event: AddToCart, ms: int, config: FoldConfig, ops: list[ProfileOp]) -> _Extra:
    ops.append(
        CartAdd(event.item_id, event.category, event.price, event.quantity, event.event_id, ms)
    )
    ops.extend(_tastes(event.category, event.brand, config.taste_weight_cart, ms))
    delay = config.cart_abandon_delay
    return _NOTHING if delay is None else _Extra(cart_due=ms + int(delay.total_seconds() * 1000))


def _removed(event: RemoveFromCart, ms: int, config: FoldConfig, ops: list[ProfileOp]) -> _Extra:
    ops.append(CartRemove(event.item_id, ms))
    return _NOTHING


def _wished(
    event: AddToWishlist | RemoveFromWishlist, ms: int, config: FoldConfig, ops: list[ProfileOp]
) -> _Extra:
    """A wish is a taste (a removal takes none back: the interest was there)."""
    if isinstance(event, RemoveFromWishlist):
        ops.append(Wish(event.item_id, "", False, ms))
        return _NOTHING
    ops.append(Wish(event.item_id, event.category, True, ms))
    ops.extend(_tastes(event.category, event.brand, config.taste_weight_wishlist, ms))
    return _NOTHING


def _searched(event: Search, ms: int, config: FoldConfig, ops: list[ProfileOp]) -> _Extra:
    ops.append(Recent("searches", normalize_query(event.query), ms))
    return _NOTHING


def _bought(event: Purchase, ms: int, config: FoldConfig, ops: list[ProfileOp]) -> _Extra:
    ops.extend(_purchase(event, ms, config))
    ops.extend(_whereabouts(event, ms))
    items = tuple(sorted({line.item_id for line in event.items}))
    categories = tuple(sorted({line.category for line in event.items}))
    return _Extra(order=Order(event.order_id, items, categories, ms))


def _reversed(event: OrderReversal, ms: int, config: FoldConfig, ops: list[ProfileOp]) -> _Extra:
    """Money credited back per currency; units back unless a refund (goods kept); the
    order ledger joins a whole-order reversal with its order, whichever comes first.
    Its id is its return id's (``return/`` cannot start an event id): a credit note sent
    twice under two event ids is one credit note."""
    if event.amount:
        ops.append(Incr(f"returned:{event.currency}", to_minor(event.amount, event.currency)))
    goods = event.type != "refund"
    if goods and event.items is not None:
        ops.append(Incr("returned_units", sum(line.quantity for line in event.items)))
    whole = event.type == "cancellation" or (goods and event.items is None)
    if whole:
        ops.append(OrderMark(event.order_id, None, True, event.items is None))
    return _REVERSAL


_REVERSAL = _Extra(reversal=True)


def _described(event: Traits, ms: int, config: FoldConfig, ops: list[ProfileOp]) -> _Extra:
    secret = config.pseudonym_secret
    ops.extend(_traits(event, ms, secret))
    ops.extend(_whereabouts(event, ms))
    return _Extra(devices=tuple(pseudonymize(secret, "device", d) for d in event.device_ids))


def _consented(event: Consent, ms: int, config: FoldConfig, ops: list[ProfileOp]) -> _Extra:
    ops.append(LastWrite(f"consent:{event.channel}", "1" if event.opted_in else "0", ms))
    return _NOTHING


def _located(event: Location, ms: int, config: FoldConfig, ops: list[ProfileOp]) -> _Extra:
    ops.append(LastWrite("geo", geohash(event.lat, event.lon), ms))
    return _NOTHING


def _near(event: Proximity, ms: int, config: FoldConfig, ops: list[ProfileOp]) -> _Extra:
    ops.append(LastWrite("near_store", event.store_id, ms))
    ops.append(LastWrite("store_distance_m", f"{event.distance_m:g}", ms))
    return _NOTHING


def _weather(event: Ambient, ms: int, config: FoldConfig, ops: list[ProfileOp]) -> _Extra:
    ops.append(LastWrite("weather", event.weather, ms))
    ops.append(LastWrite("temperature_c", f"{event.temperature_c:.1f}", ms))
    return _NOTHING


#: What each event type adds to the ops every event makes (a dict lookup, not a chain
#: of isinstance checks: the fold runs per event).
_SPECIFIC: dict[type, Callable[[Any, int, FoldConfig, list[ProfileOp]], _Extra]] = {
    PageView: _paged,
    ProductView: _viewed,
    AddToCart: _added,
    RemoveFromCart: _removed,
    AddToWishlist: _wished,
    RemoveFromWishlist: _wished,
    Search: _searched,
    Purchase: _bought,
    OrderReversal: _reversed,
    Traits: _described,
    Consent: _consented,
    Location: _located,
    Proximity: _near,
    Ambient: _weather,
}


def _tastes(category: str, brand: str | None, weight: float, ms: int) -> list[ProfileOp]:
    ops: list[ProfileOp] = [DecayAdd("taste", f"c:{category}", weight, ms)]
    if brand is not None:
        ops.append(DecayAdd("taste", f"b:{brand}", weight, ms))
    return ops


def _purchase(event: Purchase, ms: int, config: FoldConfig) -> list[ProfileOp]:
    """Spend, units and their value per currency, exact in minor units (base-currency
    figures are the view's, from dated rates); the order's units in the ledger; one
    taste op per category or brand bought (weighted by its lines: a B2B invoice of
    5,000 lines in 20 categories makes 20, not 5,000)."""
    currency, scale = event.currency, minor_scale(event.currency)
    units = value = 0
    lines: dict[str, int] = {}
    for line in event.items:
        units += line.quantity
        value += line.quantity * round(line.unit_price * scale)
        category = f"c:{line.category}"
        lines[category] = lines.get(category, 0) + 1
        if line.brand is not None:
            brand = f"b:{line.brand}"
            lines[brand] = lines.get(brand, 0) + 1
    weight = config.taste_weight_purchase
    ops: list[ProfileOp] = [
        Min("first:purchase", ms),
        Incr(f"spend:{currency}", round(event.total * scale)),
        Incr(f"units:{currency}", units),
        Incr(f"units_value:{currency}", value),
        OrderMark(event.order_id, units),
        CartClear(ms),
    ]
    ops.extend(DecayAdd("taste", name, n * weight, ms) for name, n in lines.items())
    return ops


def _whereabouts(event: Purchase | Traits, ms: int) -> list[ProfileOp]:
    """Country, region and locale: the latest purchase or traits event that names them
    wins (a purchase's say where the customer last bought)."""
    where = {"country": event.country, "region": event.region, "locale": event.locale}
    return [LastWrite(name, value, ms) for name, value in where.items() if value is not None]


def _traits(event: Traits, ms: int, secret: bytes) -> list[ProfileOp]:
    """Traits overwrite older traits; contact handles are stored only as tokens."""
    plain = {
        "timezone": event.timezone,
        "birth_year": None if event.birth_year is None else str(event.birth_year),
        "gender": event.gender,
        "h:email": event.email and pseudonymize(secret, "email", event.email),
        "h:phone": event.phone and pseudonymize(secret, "phone", event.phone),
    }
    return [LastWrite(name, value, ms) for name, value in plain.items() if value is not None]
