"""A customer's stored profile as data, and applying one event's update to it (pure).

The worker reads each customer of a batch once, applies the batch's updates here,
in memory, evaluates what changed from the result, and writes it back once: the
profile math runs where it can be tested and costs microseconds, and the state
the decision step needs is already in hand (docs/profile.md is the specification).

Every op is commutative or decided by event time, so the result does not depend
on the order in which events of different topics arrive. Money is kept in integer minor
units (exact); decayed sums keep 10 significant digits (docs/profile.md, "Stored sums").
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from stream_app.clock import zone
from stream_app.profiles import ops
from stream_app.profiles.cohorts import ACTIVE_PERIODS, first_write, mark_active
from stream_app.profiles.decayed import Decayed as Decayed
from stream_app.profiles.decayed import round10 as round10
from stream_app.profiles.mood import ComplaintEntry, apply_remarked
from stream_app.profiles.presence import mark_presence
from stream_app.profiles.rhythm import BUCKETS, DEFAULT_TIMEZONE, local_hour_of_week

#: A field's value: counts, money and times are ints, traits strings.
Value = int | float | str
#: A cart line: [added ms, category, price, quantity, event id, removed ms] (0 = none).
CartEntry = list[int | float | str]
#: A stored wishlist item: [ms of its latest add or removal, category, on (1) / off (0)].
WishEntry = list[int | str]
#: The order ledger's entry: [units bought (-1: order not seen), wholly reversed (0/1),
#: reversed without lines (0/1): the order's units count as returned].
LedgerEntry = list[int]


class Outcome(IntEnum):
    """What applying one event did."""

    DUPLICATE = 0
    APPLIED = 1
    CREATED = 2
    TOO_LATE = 3
    ERASED = 4


@dataclass(frozen=True, slots=True)
class StateLimits:
    """Parameters of applying updates (from settings; docs/profile.md)."""

    allowed_lateness_ms: int
    taste_half_life_ms: int
    rhythm_half_life_ms: int
    recent_views: int
    recent_searches: int
    #: The zone a rhythmic event is binned in when the customer has no ``timezone``.
    default_timezone: str = DEFAULT_TIMEZONE
    wishlist_size: int = 50
    #: Rhythmic events binned in the default zone remembered (the newest), to move to the
    #: customer's zone once known (``settle_zone``).
    zone_pending: int = 200
    sentiment_half_life_ms: int = 14 * 86_400_000
    complaints_kept: int = 10
    #: Cohort periods of activity kept, from the first (``profiles.cohorts``).
    active_periods: int = ACTIVE_PERIODS


@dataclass(slots=True)
class ProfileState:
    """Everything stored for one customer but the id index (docs/redis-keys.md).

    ``version`` counts the writes of this state: a write succeeds only over the
    version it was read at, so two writers never lose each other's events.
    """

    customer_id: str
    fields: dict[str, Value] = field(default_factory=dict)
    tastes: Decayed = field(default_factory=Decayed)
    rhythm: Decayed = field(default_factory=Decayed)
    cart: dict[str, CartEntry] = field(default_factory=dict)
    #: Recently viewed item -> [last view ms, category].
    viewed: dict[str, list[int | str]] = field(default_factory=dict)
    #: Recent normalized query -> last time (ms).
    searches: dict[str, int] = field(default_factory=dict)
    #: Order id -> ledger entry, as long as the profile lives (joins orders and returns).
    orders: dict[str, LedgerEntry] = field(default_factory=dict)
    #: Wished item -> its latest wishlist event (removals kept: a late add cannot revive it).
    wishlist: dict[str, WishEntry] = field(default_factory=dict)
    version: int = 0
    #: Rhythmic events binned in the default zone (no ``timezone`` known) since this state
    #: was read: counted as ``tz_assumed``, never stored.
    zone_assumed: int = 0
    #: Times (ms, ascending) of rhythmic events binned in the default zone, the newest
    #: ``StateLimits.zone_pending``: moved to the customer's zone once one is known.
    assumed: list[int] = field(default_factory=list)
    #: Remarks' decayed polarity and weight sums; recent complaints (``profiles.mood``).
    sentiment: Decayed = field(default_factory=Decayed)
    complaints: dict[str, ComplaintEntry] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return bool(self.fields)


def apply_updates(
    state: ProfileState,
    updates: Sequence[ops.ProfileUpdate],
    seen: set[str],
    limits: StateLimits,
    now_ms: int,
) -> list[Outcome]:
    """Apply one customer's updates in order; ``seen`` holds the event ids already applied
    (the caller's index) and gains the ones applied here. One outcome per update."""
    outcomes = []
    fields = state.fields
    for update in updates:
        if update.event_id in seen:
            outcomes.append(Outcome.DUPLICATE)
            continue
        watermark = fields.get("last_seen")
        if (
            isinstance(watermark, int)
            and update.event_ms < watermark - limits.allowed_lateness_ms
            and not update.lifelong  # ids kept for life: exact at any age
        ):
            outcomes.append(Outcome.TOO_LATE)
            continue
        outcome = Outcome.APPLIED
        if not fields:
            fields["created_ms"] = now_ms
            outcome = Outcome.CREATED
        seen.add(update.event_id)
        for op in update.ops:
            _APPLY[type(op)](state, op, limits)
        if state.assumed:
            settle_zone(state, limits)
        outcomes.append(outcome)
    return outcomes


def _touch(state: ProfileState, op: ops.Touch, limits: StateLimits) -> None:
    fields, ms = state.fields, op.ms
    fields["n"] = int(fields.get("n", 0)) + 1
    fields[op.count_field] = int(fields.get(op.count_field, 0)) + 1
    first, last = fields.get("first_seen"), fields.get("last_seen")
    if not isinstance(first, int) or ms < first:
        fields["first_seen"] = ms
    if not isinstance(last, int) or ms > last:
        fields["last_seen"] = ms
    if op.last_field is not None:
        stamp = fields.get(op.last_field)
        if not isinstance(stamp, int) or ms > stamp:
            fields[op.last_field] = ms
    if op.rhythmic:
        _mark_rhythm(state, ms, limits)
        mark_presence(fields, ms)


def _mark_rhythm(state: ProfileState, ms: int, limits: StateLimits) -> None:
    """Bin an event by the customer's local hour of week at its own instant, in the zone
    known when it is applied (else the default, counted): never relabelled later."""
    name = state.fields.get("timezone")
    if not name:
        state.zone_assumed += 1
        name = limits.default_timezone
        bisect.insort(state.assumed, ms)
        if len(state.assumed) > limits.zone_pending:
            del state.assumed[0]
    bucket = BUCKETS[local_hour_of_week(ms, zone(str(name)))]
    state.rhythm.add(bucket, 1.0, ms, limits.rhythm_half_life_ms)


def settle_zone(state: ProfileState, limits: StateLimits) -> None:
    """Once the customer has a ``timezone``, the events binned in the default zone before
    it (the newest ``zone_pending``) move to its hours, each at its own instant (DST
    exact): the rhythm is the same whichever of the customer's topics was applied first.

    >>> limits = StateLimits(0, 1, 86_400_000, 2, 2, "UTC")
    >>> state = ProfileState("c", {"n": 1})
    >>> _mark_rhythm(state, 0, limits)  # the epoch: Thursday 00:00 UTC (hour 72 of the week)
    >>> state.fields["timezone"] = "Asia/Kolkata"
    >>> settle_zone(state, limits)  # 05:30 in Kolkata
    >>> state.rhythm.sums, state.assumed
    ({'77': 1.0}, [])
    """
    name = state.fields.get("timezone")
    if not state.assumed or not name:
        return
    default, local = zone(str(limits.default_timezone)), zone(str(name))
    rhythm, half_life = state.rhythm, limits.rhythm_half_life_ms
    for ms in state.assumed:
        was = BUCKETS[local_hour_of_week(ms, default)]
        now = BUCKETS[local_hour_of_week(ms, local)]
        if was == now:
            continue
        rhythm.add(was, -1.0, ms, half_life)
        # What is left below 1e-4 of the event's own weight is rounding (ten digits
        # stored): an event that small is a year older; the hour is empty.
        if rhythm.sums[was] <= 1e-4 * 2.0 ** ((ms - int(rhythm.ref_ms or ms)) / half_life):
            del rhythm.sums[was]
        rhythm.add(now, 1.0, ms, half_life)
    state.assumed = []


def _incr(state: ProfileState, op: ops.Incr, _: StateLimits) -> None:
    fields = state.fields
    fields[op.field] = int(fields.get(op.field, 0)) + op.by


def _order_mark(state: ProfileState, op: ops.OrderMark, _: StateLimits) -> None:
    """Join what ``op`` says of its order with what the ledger knows; what the join adds
    (the order returned, its units) is added once, when both sides are known."""
    entry = state.orders.setdefault(op.order_id, [-1, 0, 0])
    added = join_entry(entry, [-1 if op.units is None else op.units, op.whole, op.itemless])
    add_returned(state.fields, added)


def join_entry(entry: LedgerEntry, other: LedgerEntry) -> tuple[int, int]:
    """Join ``other`` into ``entry`` (units: the larger, flags: either); the orders and
    units the join adds to what ``entry`` counted as returned."""
    before = ledger_returned(entry)
    entry[0] = max(entry[0], other[0])
    entry[1] |= other[1]
    entry[2] |= other[2]
    after = ledger_returned(entry)
    return after[0] - before[0], after[1] - before[1]


def add_returned(fields: dict[str, Value], added: tuple[int, int]) -> None:
    """Add returned orders and units (``join_entry``'s) to their fields."""
    for name, n in zip(("returned_orders", "returned_units"), added, strict=True):
        if n:
            fields[name] = int(fields.get(name, 0)) + n


def _max(state: ProfileState, op: ops.Max, _: StateLimits) -> None:
    current = state.fields.get(op.field)
    if not isinstance(current, int) or op.ms > current:
        state.fields[op.field] = op.ms


def _min(state: ProfileState, op: ops.Min, _: StateLimits) -> None:
    current = state.fields.get(op.field)
    if not isinstance(current, int) or op.ms < current:
        state.fields[op.field] = op.ms


def _last_write(state: ProfileState, op: ops.LastWrite, _: StateLimits) -> None:
    fields = state.fields
    stamp = fields.get("@" + op.field)
    if not isinstance(stamp, int) or op.ms >= stamp:
        fields[op.field], fields["@" + op.field] = op.value, op.ms


def _decay_add(state: ProfileState, op: ops.DecayAdd, limits: StateLimits) -> None:
    if op.target == "taste":
        state.tastes.add(op.field, op.weight, op.ms, limits.taste_half_life_ms)
    else:
        state.rhythm.add(op.field, op.weight, op.ms, limits.rhythm_half_life_ms)


def _recent(state: ProfileState, op: ops.Recent, limits: StateLimits) -> None:
    if op.target == "views":
        _note_view(state.viewed, op.member, op.ms, op.category or "", limits.recent_views)
    else:
        _note_recent(state.searches, op.member, op.ms, limits.recent_searches)


def _cart_add(state: ProfileState, op: ops.CartAdd, _: StateLimits) -> None:
    """The latest add of an item wins (at equal times the greater event id: the same
    line whatever the order of arrival)."""
    line = state.cart.get(op.item_id) or [0, "", 0, 0, "", 0]
    if (op.ms, op.event_id) > (int(line[0]), str(line[4])):
        line[:5] = [op.ms, op.category, op.price, op.quantity, op.event_id]
        state.cart[op.item_id] = line


def _cart_remove(state: ProfileState, op: ops.CartRemove, _: StateLimits) -> None:
    line = state.cart.get(op.item_id) or [0, "", 0, 0, "", 0]
    if op.ms > int(line[5]):
        line[5] = op.ms
        state.cart[op.item_id] = line


def _cart_clear(state: ProfileState, op: ops.CartClear, _: StateLimits) -> None:
    cart = state.cart
    for item in [i for i, line in cart.items() if max(int(line[0]), int(line[5])) <= op.ms]:
        del cart[item]


def _wish(state: ProfileState, op: ops.Wish, limits: StateLimits) -> None:
    note_wish(state.wishlist, op.item_id, [op.ms, op.category, int(op.on)], limits.wishlist_size)


#: Each op's effect, by its type (a dict lookup: the fold makes ~8 ops per event).
_APPLY: dict[type, Callable[[ProfileState, Any, StateLimits], None]] = {
    ops.Touch: _touch,
    ops.Incr: _incr,
    ops.OrderMark: _order_mark,
    ops.Max: _max,
    ops.Min: _min,
    ops.LastWrite: _last_write,
    ops.DecayAdd: _decay_add,
    ops.Recent: _recent,
    ops.CartAdd: _cart_add,
    ops.CartRemove: _cart_remove,
    ops.CartClear: _cart_clear,
    ops.Wish: _wish,
    ops.Remarked: apply_remarked,
    ops.FirstWrite: lambda s, op, _: first_write(s.fields, op.field, op.value, op.ms),
    ops.Active: lambda s, op, limits: mark_active(s.fields, op.period, limits.active_periods),
}


def ledger_returned(entry: LedgerEntry) -> tuple[int, int]:
    """Orders and units a ledger entry counts as returned: both sides must be known."""
    units, whole, itemless = entry
    if units < 0:
        return 0, 0
    return whole, units if itemless else 0


def _note_recent(recent: dict[str, int], member: str, ms: int, cap: int) -> None:
    """Keep the ``cap`` most recent members by (time, member)."""
    if ms > recent.get(member, -1):
        recent[member] = ms
    if len(recent) > cap:
        del recent[min(recent, key=lambda m: (recent[m], m))]


def _note_view(
    viewed: dict[str, list[int | str]], item: str, ms: int, category: str, cap: int
) -> None:
    """``_note_recent`` for views, which keep the category the view named."""
    current = viewed.get(item)
    if current is None or ms > int(current[0]):
        viewed[item] = [ms, category]
    if len(viewed) > cap:
        del viewed[min(viewed, key=lambda m: (int(viewed[m][0]), m))]


def wish_order(entry: WishEntry) -> tuple[int, int, str]:
    """Which of two wishlist events of an item wins: the later; at equal times the
    removal, then the greater category."""
    return int(entry[0]), 1 - int(entry[2]), str(entry[1])


def note_wish(wishlist: dict[str, WishEntry], item: str, entry: WishEntry, cap: int) -> None:
    """Keep per item the winning event, and the ``cap`` items with the latest ones (by
    (time, item): the same set whatever the order of arrival, as ``_note_recent``)."""
    current = wishlist.get(item)
    if current is None or wish_order(entry) > wish_order(current):
        wishlist[item] = entry
    if len(wishlist) > cap:
        del wishlist[min(wishlist, key=lambda m: (int(wishlist[m][0]), m))]


def wished(wishlist: Mapping[str, WishEntry]) -> list[str]:
    """Items on the wishlist now (added after their latest removal), latest added first."""
    on = [(-int(entry[0]), item) for item, entry in wishlist.items() if int(entry[2])]
    return [item for _, item in sorted(on)]
