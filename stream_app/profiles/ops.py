"""Profile updates as data: what one event does to a customer's profile.

The fold (``fold.py``) turns an event into a ``ProfileUpdate``; the Redis store
applies it atomically together with the event-id dedupe. Every op is
commutative or decided by event time (``Max``, ``Min``, ``LastWrite``), so
events from different topics may arrive in any order and still give the same
profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Incr:
    """Add an integer to a counter field."""

    field: str
    by: int = 1


@dataclass(frozen=True, slots=True)
class IncrFloat:
    """Add a float to a sum field (e.g. spend)."""

    field: str
    by: float


@dataclass(frozen=True, slots=True)
class Max:
    """Keep the largest epoch-ms value seen (e.g. last seen)."""

    field: str
    ms: int


@dataclass(frozen=True, slots=True)
class Min:
    """Keep the smallest epoch-ms value seen (e.g. first seen)."""

    field: str
    ms: int


@dataclass(frozen=True, slots=True)
class LastWrite:
    """Set a field unless a later event (by event time) already set it."""

    field: str
    value: str
    ms: int


@dataclass(frozen=True, slots=True)
class DecayAdd:
    """Add ``weight`` at event time ``ms`` to an exponentially decayed sum (tastes, rhythm)."""

    target: Literal["taste", "rhythm"]
    field: str
    weight: float
    ms: int


@dataclass(frozen=True, slots=True)
class Recent:
    """Note ``member`` at ``ms`` in a capped most-recent set (viewed items, searches)."""

    target: Literal["views", "searches"]
    member: str
    ms: int


@dataclass(frozen=True, slots=True)
class CartAdd:
    """Put an item in the cart (a later add of the same item replaces it)."""

    item_id: str
    category: str
    price: float
    quantity: int
    event_id: str
    ms: int


@dataclass(frozen=True, slots=True)
class CartRemove:
    """Take an item out of the cart, unless it was added again later (kept as a tombstone)."""

    item_id: str
    ms: int


@dataclass(frozen=True, slots=True)
class CartClear:
    """An order at ``ms`` empties the cart of everything added before it."""

    ms: int


ProfileOp = (
    Incr | IncrFloat | Max | Min | LastWrite | DecayAdd | Recent | CartAdd | CartRemove | CartClear
)


@dataclass(frozen=True, slots=True)
class Order:
    """A purchase, for basket analysis (applied once per ``order_id``)."""

    order_id: str
    items: tuple[str, ...]
    categories: tuple[str, ...]
    ms: int


@dataclass(frozen=True, slots=True)
class ProfileUpdate:
    """Everything one event changes, for one customer, applied once per ``event_id``."""

    customer_id: str
    event_id: str
    event_ms: int
    ops: tuple[ProfileOp, ...]
    device_tokens: tuple[str, ...] = ()
    cart_check_due_ms: int | None = None
    order: Order | None = None
