"""The profile fold: event -> ``ProfileUpdate`` (docs/profile.md). Pure and fast (per event)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import get_args

from stream_app.clock import to_ms
from stream_app.events.clickstream import (
    AddToCart,
    ClickEvent,
    ProductView,
    RemoveFromCart,
    Search,
)
from stream_app.events.feedback import Clicked, Converted, FeedbackBase, Opened
from stream_app.events.identity import Consent, Traits
from stream_app.events.purchase import Purchase
from stream_app.events.registry import STREAM_EVENTS, Event
from stream_app.events.sensor import Ambient, Location, Proximity
from stream_app.profiles.geo import geohash
from stream_app.profiles.ops import (
    CartAdd,
    CartClear,
    CartRemove,
    DecayAdd,
    Incr,
    IncrFloat,
    LastWrite,
    Max,
    Min,
    Order,
    ProfileOp,
    ProfileUpdate,
    Recent,
)
from stream_app.profiles.pseudonym import pseudonymize

_SPACES = re.compile(r"\s+")
HOURS_PER_WEEK = 168

# Precomputed for the hot path: isinstance with a tuple, field names without f-strings.
_STAMPED = (ClickEvent, Purchase, FeedbackBase)
_RHYTHMIC = (ClickEvent, Purchase, Opened, Clicked)
_HOURS = tuple(str(hour) for hour in range(HOURS_PER_WEEK))
_FIELDS: dict[str, tuple[str, str]] = {
    name: (f"n:{name}", f"last:{name}")
    for stream in STREAM_EVENTS.values()
    for member in get_args(get_args(stream)[0]) or (get_args(stream)[0],)
    for name in get_args(member.model_fields["type"].annotation)
}


@dataclass(frozen=True, slots=True)
class FoldConfig:
    """What the fold needs from settings."""

    pseudonym_secret: bytes
    #: When a cart is checked after an addition; None: no campaign reminds of carts.
    cart_abandon_delay: timedelta | None
    fx_to_base: Mapping[str, float] = field(default_factory=lambda: {"EUR": 1.0})
    weight_view: float = 1.0
    weight_cart: float = 3.0
    weight_purchase: float = 5.0


def normalize_query(query: str) -> str:
    """Search queries as stored: lower case, single spaces, at most 64 characters.

    >>> normalize_query("  Red   SUV ")
    'red suv'
    """
    return _SPACES.sub(" ", query.strip().lower())[:64]


def hour_of_week(ms: int) -> int:
    """UTC hour of week of an epoch-ms time; Monday 00:00 UTC is 0.

    >>> hour_of_week(0)  # 1970-01-01 was a Thursday
    72
    """
    hours = ms // 3_600_000
    return int((hours + 72) % HOURS_PER_WEEK)


def fold(event: Event, customer_id: str, config: FoldConfig) -> ProfileUpdate:
    """The update one event makes to its customer's profile.

    ``customer_id`` is passed in because sensor events may name only a device,
    resolved to a customer by the caller.

    >>> from datetime import UTC, datetime
    >>> from stream_app.events.clickstream import AppOpen
    >>> e = AppOpen(type="app_open", event_id="e1", customer_id="c1",
    ...             event_time=datetime(2026, 1, 1, tzinfo=UTC))
    >>> [getattr(op, "field", None) for op in fold(e, "c1", FoldConfig(b"k", timedelta(0))).ops]
    ['n', 'n:app_open', 'first_seen', 'last_seen', 'last:app_open', '72']
    """
    ms = to_ms(event.event_time)
    count_field, last_field = _FIELDS[event.type]
    ops: list[ProfileOp] = [
        Incr("n"),
        Incr(count_field),
        Min("first_seen", ms),
        Max("last_seen", ms),
    ]
    if isinstance(event, _STAMPED):
        ops.append(Max(last_field, ms))
    if isinstance(event, _RHYTHMIC):
        ops.append(DecayAdd("rhythm", _HOURS[hour_of_week(ms)], 1.0, ms))
    devices: tuple[str, ...] = ()
    cart_due: int | None = None
    order: Order | None = None
    match event:
        case ProductView():
            ops.append(Recent("views", event.item_id, ms))
            ops.extend(_tastes(event.category, event.brand, config.weight_view, ms))
        case AddToCart():
            ops.append(
                CartAdd(
                    event.item_id, event.category, event.price, event.quantity, event.event_id, ms
                )
            )
            ops.extend(_tastes(event.category, event.brand, config.weight_cart, ms))
            if config.cart_abandon_delay is not None:
                cart_due = ms + int(config.cart_abandon_delay.total_seconds() * 1000)
        case RemoveFromCart():
            ops.append(CartRemove(event.item_id, ms))
        case Search():
            ops.append(Recent("searches", normalize_query(event.query), ms))
        case Purchase():
            ops.extend(_purchase(event, ms, config))
            order = Order(
                event.order_id,
                tuple(sorted({line.item_id for line in event.items})),
                tuple(sorted({line.category for line in event.items})),
                ms,
            )
        case Traits():
            ops.extend(_traits(event, ms, config.pseudonym_secret))
            devices = tuple(
                pseudonymize(config.pseudonym_secret, "device", d) for d in event.device_ids
            )
        case Consent():
            ops.append(LastWrite(f"consent:{event.channel}", "1" if event.opted_in else "0", ms))
        case Location():
            ops.append(LastWrite("geo", geohash(event.lat, event.lon), ms))
        case Proximity():
            ops.extend(
                (
                    LastWrite("near_store", event.store_id, ms),
                    LastWrite("store_distance_m", f"{event.distance_m:g}", ms),
                )
            )
        case Ambient():
            ops.extend(
                (
                    LastWrite("weather", event.weather, ms),
                    LastWrite("temperature_c", f"{event.temperature_c:.1f}", ms),
                )
            )
        case _:
            pass
    engaged = event.decision_id if isinstance(event, Clicked | Converted) else None
    return ProfileUpdate(
        customer_id, event.event_id, ms, tuple(ops), devices, cart_due, order, engaged
    )


def _tastes(category: str, brand: str | None, weight: float, ms: int) -> list[ProfileOp]:
    ops: list[ProfileOp] = [DecayAdd("taste", f"c:{category}", weight, ms)]
    if brand is not None:
        ops.append(DecayAdd("taste", f"b:{brand}", weight, ms))
    return ops


def _purchase(event: Purchase, ms: int, config: FoldConfig) -> list[ProfileOp]:
    """Spend per currency always; value and unit figures only where a rate is configured."""
    ops: list[ProfileOp] = [
        Min("first:purchase", ms),
        IncrFloat(f"spend:{event.currency}", event.total),
        CartClear(ms),
    ]
    rate = config.fx_to_base.get(event.currency)
    if rate is not None:
        ops.append(IncrFloat("value", event.total * rate))
        ops.append(Incr("units", sum(line.quantity for line in event.items)))
        ops.append(
            IncrFloat(
                "units_value", sum(line.quantity * line.unit_price * rate for line in event.items)
            )
        )
    for line in event.items:
        ops.extend(_tastes(line.category, line.brand, config.weight_purchase, ms))
    return ops


def _traits(event: Traits, ms: int, secret: bytes) -> list[ProfileOp]:
    """Traits overwrite older traits; contact handles are stored only as tokens."""
    plain = {
        "timezone": event.timezone,
        "locale": event.locale,
        "birth_year": None if event.birth_year is None else str(event.birth_year),
        "gender": event.gender,
        "h:email": event.email and pseudonymize(secret, "email", event.email),
        "h:phone": event.phone and pseudonymize(secret, "phone", event.phone),
    }
    return [LastWrite(name, value, ms) for name, value in plain.items() if value is not None]
