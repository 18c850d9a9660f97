"""Merging two profiles: an anonymous visitor's history into its customer's (pure).

Every stored aggregate is commutative or decided by event time (docs/profile.md), so
the profile of the union of two sets of events is a function of their two profiles:
counts and sums add, first / last times take the min / max, last-writer-wins fields
the later stamp, decayed sums add at a common reference, the cart, the wishlist and
the recent lists keep per member what the later event says. That makes a merge order-independent
and idempotent with the events around it (docs/identity.md; tests/unit/test_merge.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from stream_app.profiles.cohorts import merge_active
from stream_app.profiles.mood import note_complaint
from stream_app.profiles.state import (
    CartEntry,
    Decayed,
    LedgerEntry,
    ProfileState,
    StateLimits,
    Value,
    add_returned,
    join_entry,
    ledger_returned,
    note_wish,
    round10,
    settle_zone,
)

#: Fields that keep the smallest / largest value (times): by name or prefix.
_MIN = frozenset({"first_seen", "created_ms"})
_MAX = frozenset({"last_seen"})

E = TypeVar("E")
#: Notes one entry into a capped per-key collection (``note_wish``, ``note_complaint``).
Noter = Callable[[dict[str, list[E]], str, list[E], int], None]


def merge(kept: ProfileState, other: ProfileState, limits: StateLimits) -> ProfileState:
    """The profile of ``kept``'s and ``other``'s events together; ``kept``'s id and
    version (its write is guarded by the version it was read at).

    >>> from stream_app.profiles.state import StateLimits
    >>> limits = StateLimits(0, 1000, 1000, 2, 2)
    >>> a = ProfileState("c", {"n": 2, "last_seen": 5, "gender": "f", "@gender": 5}, version=7)
    >>> b = ProfileState("~a", {"n": 1, "last_seen": 9, "gender": "m", "@gender": 3})
    >>> m = merge(a, b, limits)
    >>> m.customer_id, m.version, m.fields
    ('c', 7, {'n': 3, 'last_seen': 9, 'gender': 'f', '@gender': 5})
    """
    fields = merge_fields(kept.fields, other.fields)
    merge_active(fields, kept.fields, other.fields, limits.active_periods)
    orders = _ledger(kept.orders, other.orders, fields)
    last_purchase = fields.get("last:purchase")
    merged = ProfileState(
        kept.customer_id,
        fields,
        _decayed(kept.tastes, other.tastes, limits.taste_half_life_ms),
        _decayed(kept.rhythm, other.rhythm, limits.rhythm_half_life_ms),
        _cart(kept.cart, other.cart, last_purchase if isinstance(last_purchase, int) else None),
        _recent_views(kept.viewed, other.viewed, limits.recent_views),
        _recent(kept.searches, other.searches, limits.recent_searches),
        orders,
        _noted(kept.wishlist, other.wishlist, limits.wishlist_size, note_wish),
        kept.version,
        assumed=sorted(kept.assumed + other.assumed)[-limits.zone_pending :],
        sentiment=_decayed(kept.sentiment, other.sentiment, limits.sentiment_half_life_ms),
        complaints=_noted(
            kept.complaints, other.complaints, limits.complaints_kept, note_complaint
        ),
    )
    settle_zone(merged, limits)  # either side's events binned before a zone was known
    return merged


def merge_fields(a: Mapping[str, Value], b: Mapping[str, Value]) -> dict[str, Value]:
    """Fields of both: a field with an ``@`` stamp is last-writer-wins (equal stamps: the
    greater value), times keep the min (``first_seen``, ``first:*``, ``created_ms``) or
    max (``last_seen``, ``last:*``), every other number is a count or a sum and adds.

    >>> merge_fields({"n": 1, "spend:EUR": 0.1, "first_seen": 4}, {"n": 2, "spend:EUR": 0.2})
    {'n': 3, 'spend:EUR': 0.3, 'first_seen': 4}
    """
    out = dict(a)
    for name, value in b.items():
        if name[0] == "@":
            continue
        stamp = b.get("@" + name)
        mine = out.get(name)
        if mine is None:
            out[name] = value
            if stamp is not None:
                out["@" + name] = stamp
        elif stamp is not None:
            if (int(stamp), str(value)) > (int(out.get("@" + name, -1)), str(mine)):
                out[name], out["@" + name] = value, stamp
        elif name in _MIN or name.startswith("first:"):
            out[name] = min(int(mine), int(value))
        elif name in _MAX or name.startswith("last:"):
            out[name] = max(int(mine), int(value))
        elif isinstance(value, float) or isinstance(mine, float):
            out[name] = round10(float(mine) + float(value))
        else:
            out[name] = int(mine) + int(value)
    return out


def _decayed(a: Decayed, b: Decayed, half_life_ms: float) -> Decayed:
    """Both carried to the later reference time (factors <= 1: nothing overflows), added."""
    if b.ref_ms is None:
        return Decayed(a.ref_ms, dict(a.sums))
    if a.ref_ms is None:
        return Decayed(b.ref_ms, dict(b.sums))
    ref = max(a.ref_ms, b.ref_ms)
    sums: dict[str, float] = {}
    for part in (a, b):
        scale = 2.0 ** ((int(part.ref_ms or 0) - ref) / half_life_ms)
        for name, value in part.sums.items():
            sums[name] = sums.get(name, 0.0) + value * scale
    return Decayed(ref, {name: round10(value) for name, value in sums.items()})


def _cart(
    a: Mapping[str, CartEntry], b: Mapping[str, CartEntry], last_purchase: int | None
) -> dict[str, CartEntry]:
    """Per item the later add ``(ms, event id)`` and the later removal; what a purchase
    came after is dropped (invisible anyway: docs/profile.md, "Cart")."""
    cart = {item: list(line) for item, line in a.items()}
    for item, line in b.items():
        mine = cart.get(item)
        if mine is None:
            cart[item] = list(line)
            continue
        if (int(line[0]), str(line[4])) > (int(mine[0]), str(mine[4])):
            mine[:5] = line[:5]
        mine[5] = max(int(mine[5]), int(line[5]))
    if last_purchase is None:
        return cart
    return {i: e for i, e in cart.items() if max(int(e[0]), int(e[5])) > last_purchase}


def _recent(a: Mapping[str, int], b: Mapping[str, int], cap: int) -> dict[str, int]:
    """Per member the later time; the ``cap`` most recent by ``(time, member)``."""
    times = dict(a)
    for member, ms in b.items():
        times[member] = max(ms, times.get(member, ms))
    kept = sorted(times, key=lambda m: (times[m], m), reverse=True)[:cap]
    return {member: times[member] for member in kept}


def _recent_views(
    a: Mapping[str, list[int | str]], b: Mapping[str, list[int | str]], cap: int
) -> dict[str, list[int | str]]:
    """``_recent`` for views, which keep the category of the later view (equal times:
    the greater category)."""
    viewed = {item: list(seen) for item, seen in a.items()}
    for item, seen in b.items():
        mine = viewed.get(item)
        if mine is None or (int(seen[0]), str(seen[1])) > (int(mine[0]), str(mine[1])):
            viewed[item] = list(seen)
    kept = sorted(viewed, key=lambda m: (int(viewed[m][0]), m), reverse=True)[:cap]
    return {item: viewed[item] for item in kept}


def _noted(
    a: Mapping[str, list[E]], b: Mapping[str, list[E]], cap: int, note: Noter[E]
) -> dict[str, list[E]]:
    """Both sides' entries, each of ``b`` noted into ``a``'s as its own event would be
    (``note``: the wishlist's or the complaints' rule, with its cap)."""
    kept = {key: list(entry) for key, entry in a.items()}
    for key, entry in b.items():
        note(kept, key, list(entry), cap)
    return kept


def _ledger(
    a: Mapping[str, LedgerEntry], b: Mapping[str, LedgerEntry], fields: dict[str, Value]
) -> dict[str, LedgerEntry]:
    """Both order ledgers joined per order. An order one side bought and the other
    returned is returned only once joined: what the join adds beyond what each side
    counted alone goes to ``fields`` (as ``state``'s order mark does).

    >>> fields = {}
    >>> _ledger({"o1": [3, 0, 0]}, {"o1": [-1, 1, 1]}, fields), fields
    ({'o1': [3, 1, 1]}, {'returned_orders': 1, 'returned_units': 3})
    """
    orders = {order_id: list(entry) for order_id, entry in a.items()}
    for order_id, theirs in b.items():
        mine = orders.get(order_id)
        if mine is None:
            orders[order_id] = list(theirs)
            continue
        added = join_entry(mine, theirs)
        alone = ledger_returned(theirs)
        add_returned(fields, (added[0] - alone[0], added[1] - alone[1]))
    return orders
