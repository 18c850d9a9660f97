"""Profile updates as data: what one event does to a customer's profile.

The fold (``fold.py``) turns an event into a ``ProfileUpdate``; ``state.py``
applies it to the stored profile, once per event id. Every op is
commutative or decided by event time (``Max``, ``Min``, ``LastWrite``), so
events from different topics may arrive in any order and still give the same
profile.

Ops are NamedTuples: built per event on the hot path, a tuple is several times
cheaper to create than a frozen dataclass. ``profiles.state`` applies them.
"""

from __future__ import annotations

from typing import Literal, NamedTuple


class Touch(NamedTuple):
    """What every event does: count it (``n`` and ``count_field``), stretch first / last
    seen, stamp ``last_field`` (clickstream, purchase, feedback) and, when ``rhythmic``,
    mark the rhythm (activity) at the customer's local hour of week: binned when applied,
    where the profile's time zone is known. One op, not six: the fold runs per event."""

    count_field: str
    ms: int
    last_field: str | None = None
    rhythmic: bool = False


class Incr(NamedTuple):
    """Add an integer to a counter or sum field (money in minor units: exact)."""

    field: str
    by: int = 1


class Max(NamedTuple):
    """Keep the largest epoch-ms value seen (e.g. last seen)."""

    field: str
    ms: int


class Min(NamedTuple):
    """Keep the smallest epoch-ms value seen (e.g. first seen)."""

    field: str
    ms: int


class LastWrite(NamedTuple):
    """Set a field unless a later event (by event time) already set it."""

    field: str
    value: str
    ms: int


class DecayAdd(NamedTuple):
    """Add ``weight`` at event time ``ms`` to an exponentially decayed sum (tastes, rhythm)."""

    target: Literal["taste", "rhythm"]
    field: str
    weight: float
    ms: int


class Recent(NamedTuple):
    """Note ``member`` at ``ms`` in a capped most-recent set (viewed items, searches);
    a view keeps the ``category`` it named."""

    target: Literal["views", "searches"]
    member: str
    ms: int
    category: str | None = None


class CartAdd(NamedTuple):
    """Put an item in the cart (a later add of the same item replaces it)."""

    item_id: str
    category: str
    price: float
    quantity: int
    event_id: str
    ms: int


class CartRemove(NamedTuple):
    """Take an item out of the cart, unless it was added again later (kept as a tombstone)."""

    item_id: str
    ms: int


class CartClear(NamedTuple):
    """An order at ``ms`` empties the cart of everything added before it."""

    ms: int


class Wish(NamedTuple):
    """Put an item on the wishlist (``on``) or take it off, at ``ms``: per item the latest
    event wins (a removal at the same time as an add wins), whatever the order of arrival."""

    item_id: str
    category: str
    on: bool
    ms: int


class OrderMark(NamedTuple):
    """Note in the order ledger what one event says of an order: a purchase its ``units``;
    a reversal whether it undoes the ``whole`` order and whether its units are the
    order's (``itemless``: the event lists no lines). Where the purchase and a reversal
    meet, whichever comes first, the order counts as returned once (and its units if
    itemless): the same profile whatever the order of arrival."""

    order_id: str
    units: int | None = None
    whole: bool = False
    itemless: bool = False


class Remarked(NamedTuple):
    """A remark's polarity (-1..1, scored in the pass) at ``ms``, for the decayed sentiment;
    a negative one is also a ``complaint``: (its event id, source, what it is about), never
    its text (``profiles.mood``)."""

    polarity: float
    ms: int
    complaint: tuple[str, str, str] | None = None


class FirstWrite(NamedTuple):
    """Set a field unless an earlier event (by event time) already set it; at equal times
    the greater value (stamped ``@<field>`` with ``-ms``: a merge's last-writer-wins
    rule keeps the earliest). The first-touch source."""

    field: str
    value: str
    ms: int


class Active(NamedTuple):
    """The customer was active in cohort period ``period`` (``profiles.cohorts``)."""

    period: int


ProfileOp = (
    Touch
    | Incr
    | Max
    | Min
    | LastWrite
    | DecayAdd
    | Recent
    | CartAdd
    | CartRemove
    | CartClear
    | Wish
    | OrderMark
    | Remarked
    | FirstWrite
    | Active
)


class Order(NamedTuple):
    """A purchase, for basket analysis (applied once per ``order_id``)."""

    order_id: str
    items: tuple[str, ...]
    categories: tuple[str, ...]
    ms: int


class ProfileUpdate(NamedTuple):
    """Everything one event changes, for one customer, applied once per ``event_id``."""

    customer_id: str
    event_id: str
    event_ms: int
    ops: tuple[ProfileOp, ...]
    device_tokens: tuple[str, ...] = ()
    cart_check_due_ms: int | None = None
    order: Order | None = None
    #: A return, refund or cancellation (its ``event_id`` is then its return id's).
    reversal: bool = False
    #: Decision id a click or conversion engaged with (a positive label).
    engaged_with: str | None = None
    #: The anonymous profile an event naming both ids links to its customer
    #: (docs/identity.md); set by the caller of the fold.
    linked: str | None = None

    @property
    def lifelong(self) -> bool:
        """Whether its id is kept as long as the profile (an order's, a return's: a
        redelivery is a duplicate whatever its age, and a late one is applied), not only
        for the allowed lateness."""
        return self.order is not None or self.reversal
