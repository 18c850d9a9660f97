"""The profile fold: event -> ``ProfileUpdate``. Pure and fast (runs per event)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from stream_app.clock import to_ms
from stream_app.events.clickstream import AddToCart, RemoveFromCart
from stream_app.events.identity import Consent, Traits
from stream_app.events.purchase import Purchase
from stream_app.events.registry import Event
from stream_app.events.sensor import Ambient, Proximity
from stream_app.profiles.ops import (
    CartAdd,
    CartClear,
    CartRemove,
    Incr,
    IncrFloat,
    LastWrite,
    Max,
    Min,
    ProfileOp,
    ProfileUpdate,
)
from stream_app.profiles.pseudonym import pseudonymize


@dataclass(frozen=True, slots=True)
class FoldConfig:
    """What the fold needs from settings."""

    pseudonym_secret: bytes
    cart_abandon_delay: timedelta


def fold(event: Event, customer_id: str, config: FoldConfig) -> ProfileUpdate:
    """The update one event makes to its customer's profile.

    ``customer_id`` is passed in because sensor events may name only a device,
    resolved to a customer by the caller.

    >>> from datetime import UTC, datetime
    >>> from stream_app.events.clickstream import AppOpen
    >>> e = AppOpen(type="app_open", event_id="e1", customer_id="c1",
    ...             event_time=datetime(2026, 1, 1, tzinfo=UTC))
    >>> [op.field for op in fold(e, "c1", FoldConfig(b"k", timedelta(minutes=30))).ops]
    ['n', 'n:app_open', 'first_seen', 'last_seen', 'last:app_open']
    """
    ms = to_ms(event.event_time)
    ops: list[ProfileOp] = [
        Incr("n"),
        Incr(f"n:{event.type}"),
        Min("first_seen", ms),
        Max("last_seen", ms),
        Max(f"last:{event.type}", ms),
    ]
    devices: tuple[str, ...] = ()
    cart_due: int | None = None
    match event:
        case AddToCart():
            ops.append(
                CartAdd(
                    event.item_id, event.category, event.price, event.quantity, event.event_id, ms
                )
            )
            cart_due = ms + int(config.cart_abandon_delay.total_seconds() * 1000)
        case RemoveFromCart():
            ops.append(CartRemove(event.item_id, ms))
        case Purchase():
            ops.extend((IncrFloat(f"spend:{event.currency}", event.total), CartClear(ms)))
        case Traits():
            ops.extend(_traits(event, ms, config.pseudonym_secret))
            devices = tuple(
                pseudonymize(config.pseudonym_secret, "device", d) for d in event.device_ids
            )
        case Consent():
            ops.append(LastWrite(f"consent:{event.channel}", "1" if event.opted_in else "0", ms))
        case Proximity():
            ops.append(LastWrite("near_store", event.store_id, ms))
        case Ambient():
            ops.extend(
                (
                    LastWrite("weather", event.weather, ms),
                    LastWrite("temperature_c", f"{event.temperature_c:.1f}", ms),
                )
            )
        case _:
            pass
    return ProfileUpdate(customer_id, event.event_id, ms, tuple(ops), devices, cart_due)


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
