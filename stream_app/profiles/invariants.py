"""Invariants a stored profile always satisfies, checked cheaply on a sample (pure).

Each check is a fact docs/profile.md makes true of every profile whatever the order
events arrived in, so a violation is corruption (a bad write, a hand edit, a bug),
never a legitimate state. The worker runs them on a hash-sampled fraction of a pass's
customers (``streaming.audit``); ``stream-app audit`` recomputes profiles in full.

What is deliberately *not* an invariant, and why:

- returned units <= units bought: a reversal whose order never arrived (or was bought
  before the order ledger existed) adds its lines' units and no order (docs/profile.md,
  "Returns"); net spend per currency is negative meanwhile for the same reason;
- a cart line newer than ``last:purchase``: a late ``add_to_cart`` older than the
  purchase is kept (invisible), as the cart rule says;
- ``n:<type>`` of one type against another (a session without a ``session_start``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Set
from dataclasses import dataclass

from stream_app.profiles.fold import RHYTHMIC_COUNTS
from stream_app.profiles.presence import GAP_FIELDS
from stream_app.profiles.rhythm import BUCKETS
from stream_app.profiles.state import Decayed, ProfileState, StateLimits, ledger_returned

#: Every check's name (the ``check`` label of ``stream_app_audit_mismatches_total``).
CHECKS = (
    "negative_count",
    "event_total",
    "net_over_gross",
    "returned_orders",
    "returned_units",
    "time_order",
    "future_time",
    "stamp_pair",
    "rhythm_total",
    "rhythm_bin",
    "gap_total",
    "cart_line",
    "ledger_entry",
    "capped",
    "memberships",
    "erased_profile",
    "erased_schedule",
)
#: Counts and sums: never negative (``returned:<CUR>`` is ``net_over_gross``).
_COUNT_PREFIXES = ("n:", "spend:", "units:", "units_value:", "gap:")
_COUNTS = frozenset({"n", "returned_units", "returned_orders"})
#: Event-time fields outside ``first_seen .. last_seen`` (a floor, a processing time).
_NOT_EVENT_TIMES = frozenset({"@ids_floor", "created_ms"})
#: Relative slack of decayed sums: ten significant digits per add, and what a zone's
#: settling drops as rounding (below 1e-4 of an event's weight, ``state.settle_zone``).
_DECAY_SLACK = 2e-4
_HOURS = frozenset(BUCKETS)


def sampled(customer_id: str, rate: float) -> bool:
    """Whether ``customer_id`` is in the audited fraction ``rate``: a hash of the id, so the
    same customers always (the worker's checks and ``stream-app audit`` agree), spread
    evenly whatever the ids look like.

    >>> sampled("c-1", 1.0), sampled("c-1", 0.0)
    (True, False)
    >>> sum(sampled(f"c-{i}", 0.1) for i in range(10_000))
    980
    """
    digest = hashlib.blake2b(customer_id.encode(), digest_size=8, person=b"audit").digest()
    return int.from_bytes(digest, "big") < rate * 2**64


@dataclass(frozen=True, slots=True)
class Around:
    """What a profile is checked with besides itself: the pass's clock and limits, and
    (when known) the memberships written beside it and the rules' own verdict."""

    now_ms: int
    future_skew_ms: int
    limits: StateLimits
    #: Segments written with the profile, and the rules' verdict over the same view.
    members: Set[str] | None = None
    verdict: Set[str] | None = None
    #: The customer is erased; their planned decisions still stored.
    erased: bool = False
    scheduled: int = 0


def violations(state: ProfileState, around: Around) -> list[str]:
    """The names of the checks ``state`` fails (empty: consistent).

    >>> limits = StateLimits(0, 1, 86_400_000, 20, 10)
    >>> ok = ProfileState("c", {"n": 1, "n:consent": 1, "first_seen": 5, "last_seen": 5})
    >>> violations(ok, Around(10, 0, limits))
    []
    >>> bad = ProfileState("c", {"n": 2, "n:consent": 1, "first_seen": 5, "last_seen": 99})
    >>> violations(bad, Around(10, 0, limits))
    ['event_total', 'future_time']
    """
    found: list[str] = []
    if around.erased:
        found += ["erased_profile"] * state.exists + ["erased_schedule"] * (around.scheduled > 0)
    if not state.exists:
        return found
    fields = state.fields
    found += _counts(fields)
    found += _times(state, around)
    found += _rhythm(state, around.limits)
    found += _members(state, around.limits)
    if around.members is not None and around.verdict is not None:
        found += ["memberships"] * (set(around.members) != set(around.verdict))
    return found


def _num(fields: Mapping[str, object], name: str) -> int | float:
    value = fields.get(name, 0)
    return value if isinstance(value, int | float) else 0


def _counts(fields: Mapping[str, object]) -> list[str]:
    """Counts never negative; ``n`` = the per-type counts; money back never negative
    (net <= gross per currency); returned orders between the ledger's and the orders'."""
    found = []
    counts = [v for k, v in fields.items() if k in _COUNTS or k.startswith(_COUNT_PREFIXES)]
    if any(not isinstance(v, int) or v < 0 for v in counts):
        found.append("negative_count")
    per_type = sum(_num(fields, k) for k in fields if k.startswith("n:"))
    if _num(fields, "n") != per_type:
        found.append("event_total")
    returned = [v for k, v in fields.items() if k.startswith("returned:")]
    if any(not isinstance(v, int) or v < 0 for v in returned):
        found.append("net_over_gross")
    return found


def _ledger(state: ProfileState) -> list[str]:
    """The order ledger's entries are well formed, and count no more than the fields:
    ``returned_orders`` >= the orders it joined (legacy documents counted more, unjoined)
    and <= the purchases applied; ``returned_units`` >= the units it joined."""
    found = []
    orders = units = 0
    for entry in state.orders.values():
        if len(entry) != 3 or entry[0] < -1 or not {entry[1], entry[2]} <= {0, 1}:
            return ["ledger_entry"]
        joined = ledger_returned(entry)
        orders, units = orders + joined[0], units + joined[1]
    fields = state.fields
    if not orders <= _num(fields, "returned_orders") <= _num(fields, "n:purchase"):
        found.append("returned_orders")
    if _num(fields, "returned_units") < units:
        found.append("returned_units")
    return found


def _times(state: ProfileState, around: Around) -> list[str]:
    """Every event time stored lies between ``first_seen`` and ``last_seen``; nothing is
    beyond the clock's skew; a last-writer-wins stamp has its field."""
    fields, found = state.fields, []
    first, last = fields.get("first_seen"), fields.get("last_seen")
    if not isinstance(first, int) or not isinstance(last, int):
        return ["time_order"]
    times = [  # a first-writer-wins stamp holds minus its event time (``ops.FirstWrite``)
        -v if k[0] == "@" and isinstance(v, int) and v < 0 else v
        for k, v in fields.items()
        if k.startswith(("first:", "last:", "@")) and k not in _NOT_EVENT_TIMES
    ]
    times += [int(line[0]) for line in state.cart.values() if line and int(line[0])]
    times += [int(line[5]) for line in state.cart.values() if len(line) > 5 and int(line[5])]
    times += [int(seen[0]) for seen in state.viewed.values()]
    times += [*state.searches.values(), *state.assumed]
    times += [int(wish[0]) for wish in state.wishlist.values()]
    if first > last or any(not isinstance(t, int) or not first <= t <= last for t in times):
        found.append("time_order")
    horizon = around.now_ms + around.future_skew_ms
    if last > horizon or _num(fields, "created_ms") > horizon:
        found.append("future_time")
    stamped = [k[1:] for k in fields if k[0] == "@" and k not in _NOT_EVENT_TIMES]
    if any(name not in fields for name in stamped):
        found.append("stamp_pair")
    return found + _ledger(state)


def _rhythm(state: ProfileState, limits: StateLimits) -> list[str]:
    """Each rhythmic event adds 1 at its own time: the rhythm's total at ``first_seen``
    is at least their count and at ``last_seen`` at most; hours are hours of the week;
    a pause is counted before an activity, at most one each."""
    fields, found = state.fields, []
    events = sum(_num(fields, name) for name in RHYTHMIC_COUNTS)
    rhythm, half_life = state.rhythm, limits.rhythm_half_life_ms
    if any(name not in _HOURS or value < 0 for name, value in rhythm.sums.items()):
        found.append("rhythm_bin")
    early = _total(rhythm, _num(fields, "first_seen"), half_life)
    late = _total(rhythm, _num(fields, "last_seen"), half_life)
    slack = _DECAY_SLACK * events + 1e-6
    if early < events - slack or late > events + slack:
        found.append("rhythm_total")
    if sum(_num(fields, name) for name in GAP_FIELDS) > events:
        found.append("gap_total")
    return found


def _total(decayed: Decayed, at_ms: float, half_life_ms: float) -> float:
    """The sums' total at ``at_ms`` (one scale for all: ``Decayed.at`` without a dict)."""
    if decayed.ref_ms is None:
        return 0.0
    scale: float = 2.0 ** (-(at_ms - decayed.ref_ms) / half_life_ms)
    return float(sum(decayed.sums.values())) * scale


def _members(state: ProfileState, limits: StateLimits) -> list[str]:
    """Cart lines as the cart ops write them; the capped sets within their caps."""
    found = []
    for line in state.cart.values():
        if not _cart_line(line):
            found.append("cart_line")
            break
    if (
        len(state.viewed) > limits.recent_views
        or len(state.searches) > limits.recent_searches
        or len(state.wishlist) > limits.wishlist_size
        or len(state.assumed) > limits.zone_pending
    ):
        found.append("capped")
    return found


def _cart_line(line: object) -> bool:
    """``[added ms, category, price, quantity, event id, removed ms]``: an add's line has
    a price >= 0, a quantity >= 1 and its event id; a removal alone only its time."""
    if not isinstance(line, list) or len(line) != 6:
        return False
    added, category, price, quantity, event_id, removed = line
    if not isinstance(added, int) or not isinstance(removed, int) or added < 0 or removed < 0:
        return False
    if not added:
        return removed > 0
    return (
        isinstance(category, str)
        and isinstance(price, int | float)
        and price >= 0
        and isinstance(quantity, int)
        and quantity >= 1
        and isinstance(event_id, str)
        and bool(event_id)
    )
