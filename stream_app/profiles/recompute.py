"""Recompute sampled customers' profiles from their events with the pure fold, and
compare them with the stored ones field by field (``stream-app audit``; docs/audit.md).

The events are given in the order the engine received them (its acceptance of late
events depends on it); each sampled customer's updates are applied as the worker
applies them (``fold`` then ``apply_updates``). The comparison walks the stored
document generically (every field of ``f``, every member of the cart, ledger, lists),
so a field the fold starts writing is compared without being named here.

What the events cannot tell is skipped and counted, never called a mismatch
(``Skip``): a customer with no stored profile (expired, erased, or never written), an
erased one, one whose stored history starts before the retained events, and one whose
events were joined through an anonymous id (the visitor's events before the link
are not attributed here; readings naming only a device are, to the customer whose traits
registered it). Presence (``ss``, ``@ss``, ``gap:<i>``, ``sv``) follows the
arrival order across topics, which retained data does not keep: it is not compared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from stream_app.clock import to_ms
from stream_app.events.identity import Traits
from stream_app.events.registry import Event
from stream_app.profiles.fold import FoldConfig, fold
from stream_app.profiles.mood import NEGATIVE_FIELD
from stream_app.profiles.presence import PRESENCE_FIELDS
from stream_app.profiles.state import ProfileState, StateLimits, apply_updates

#: Fields not a function of the events: the first write's wall clock, history's id floor,
#: and what the sentiment model of that moment scored (its snapshot is gone by now).
_UNCOMPARED = frozenset({"created_ms", "@ids_floor", NEGATIVE_FIELD, *PRESENCE_FIELDS})
#: Parts scored by the sentiment model of the moment: decayed sentiment, complaints.
_SCORED_PARTS = frozenset({"m", "k"})
#: Readable names of the document's parts in a report (docs/redis-keys.md).
_PARTS = {"f": "", "c": "cart", "w": "viewed", "s": "searches", "o": "orders", "l": "wishlist"}
#: Decayed sums agree within this (ten significant digits stored, added in another order).
_RELATIVE = 1e-6
#: ... and an hour a zone's settling emptied may keep up to this (``state.settle_zone``).
_ROUNDING = 1e-4


class Skip(StrEnum):
    """Why a sampled customer was not compared."""

    ABSENT = "absent"
    ERASED = "erased"
    BEYOND_RETENTION = "beyond_retention"
    LINKED = "linked"


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One field that differs: the recomputed value against the stored one (None: absent)."""

    customer: str
    field: str
    expected: Any
    stored: Any


@dataclass(slots=True)
class Recomputed:
    """Sampled customers' profiles folded from their events, in arrival order."""

    limits: StateLimits
    fold_config: FoldConfig
    #: Whether a customer id is sampled (``invariants.sampled`` at the audit's rate).
    sampled: Callable[[str], bool]
    states: dict[str, ProfileState] = field(default_factory=dict)
    seen: dict[str, set[str]] = field(default_factory=dict)
    #: Customers whose events name an anonymous id (a visitor's events joined them).
    linked: set[str] = field(default_factory=set)
    #: Device id -> the customer whose traits registered it; readings waiting for one.
    devices: dict[str, str] = field(default_factory=dict)
    parked: dict[str, list[Event]] = field(default_factory=dict)
    events: int = 0

    def add(self, event: Event) -> None:
        """Apply one event to its customer, if sampled (others and catalog events pass). A
        reading naming only a device is its registrant's, waiting for their traits as the
        worker parks it (one never registered is dropped, as the worker dead-letters it)."""
        cid = getattr(event, "customer_id", None)
        if isinstance(event, Traits) and cid is not None:
            for device in event.device_ids:
                self.devices[device] = cid
        if cid is None:
            reading: str | None = getattr(event, "device_id", None)
            if reading is None:
                return
            cid = self.devices.get(reading)
            if cid is None:
                self.parked.setdefault(reading, []).append(event)
                return
        if not self.sampled(cid):
            return
        if getattr(event, "anonymous_id", None) is not None:
            self.linked.add(cid)
        self._apply(cid, event)
        if isinstance(event, Traits):
            for device in event.device_ids:
                for waited in self.parked.pop(device, []):
                    self._apply(cid, waited)

    def _apply(self, cid: str, event: Event) -> None:
        ms = to_ms(event.event_time)
        update = fold(event, cid, self.fold_config, ms)
        state = self.states.setdefault(cid, ProfileState(cid))
        apply_updates(state, [update], self.seen.setdefault(cid, set()), self.limits, ms)
        self.events += 1


def skip_reason(expected: ProfileState, stored: ProfileState | None, erased: bool) -> Skip | None:
    """Why this customer cannot be compared (None: compare)."""
    if erased:
        return Skip.ERASED
    if stored is None or not stored.exists:
        return Skip.ABSENT
    first, mine = stored.fields.get("first_seen"), expected.fields.get("first_seen")
    if isinstance(first, int) and isinstance(mine, int) and first < mine:
        return Skip.BEYOND_RETENTION
    return None


def compare(
    cid: str, expected: Mapping[str, Any], stored: Mapping[str, Any], limits: StateLimits
) -> list[Mismatch]:
    """Every part of two stored documents (docs/redis-keys.md, parsed JSON) that differs:
    fields and the members of the cart, ledger and lists one by one, decayed sums at the
    recomputed ``last_seen``; ``v`` (the version) and the uncompared fields left out.

    >>> limits = StateLimits(0, 1000, 1000, 2, 2)
    >>> a = {"v": 1, "f": {"n": 2, "created_ms": 1}, "c": {"i": [5, "x", 1.0, 1, "e", 0]}}
    >>> b = {"v": 4, "f": {"n": 3, "created_ms": 2}, "c": {"i": [5, "x", 1.0, 2, "e", 0]}}
    >>> [(m.field, m.expected, m.stored) for m in compare("c", a, b, limits)]
    [('cart.i', [5, 'x', 1.0, 1, 'e', 0], [5, 'x', 1.0, 2, 'e', 0]), ('n', 2, 3)]
    """
    found: list[Mismatch] = []
    expected, stored = _settled_cart(expected), _settled_cart(stored)
    last = expected.get("f", {}).get("last_seen")
    at_ms = last if isinstance(last, int) else 0
    for part in sorted((expected.keys() | stored.keys()) - {"v", *_SCORED_PARTS}):
        a, b = expected.get(part), stored.get(part)
        if part in ("t", "r"):
            half_life = limits.taste_half_life_ms if part == "t" else limits.rhythm_half_life_ms
            found += _decayed(cid, part, a, b, at_ms, half_life)
        elif isinstance(a, dict) or isinstance(b, dict):
            prefix = _PARTS.get(part, part)
            skip = _UNCOMPARED if part == "f" else frozenset()
            found += _members(cid, prefix, a or {}, b or {}, skip)
        elif (a or None) != (b or None):  # ``z`` is absent when empty
            found.append(Mismatch(cid, _PARTS.get(part, part), a, b))
    return found


def _settled_cart(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """``doc`` without what a purchase made meaningless in the cart (docs/profile.md,
    "Cart"): lines added and removed at or before ``last:purchase``, and removal times at
    or before it (no add that early is visible anyway). Whether a purchase cleared them
    depends on the order of arrival (an older add or removal arriving after the purchase
    stays), never what the cart shows or will show."""
    bought = doc.get("f", {}).get("last:purchase")
    cart = doc.get("c")
    if not isinstance(bought, int) or not cart:
        return doc
    kept = {
        item: [*line[:5], line[5] if line[5] > bought else 0]
        for item, line in cart.items()
        if max(line[0], line[5]) > bought
    }
    return {**doc, "c": kept}


def memberships(cid: str, verdict: Set[str], stored: Set[str]) -> list[Mismatch]:
    """The stored segments against the rules' verdict over the stored profile now."""
    if set(verdict) == set(stored):
        return []
    return [Mismatch(cid, "segments", sorted(verdict), sorted(stored))]


def _members(
    cid: str, prefix: str, a: Mapping[str, Any], b: Mapping[str, Any], skip: Set[str]
) -> list[Mismatch]:
    return [
        Mismatch(cid, f"{prefix}.{name}" if prefix else name, a.get(name), b.get(name))
        for name in sorted(a.keys() | b.keys())
        if name not in skip and not _same(a.get(name), b.get(name))
    ]


def _same(a: Any, b: Any) -> bool:
    """Equal; numbers within ten significant digits (a float sum added in another order)."""
    numbers = isinstance(a, int | float) and isinstance(b, int | float)
    if numbers and (isinstance(a, float) or isinstance(b, float)):
        return bool(abs(a - b) <= _RELATIVE * max(abs(a), abs(b), 1e-9))
    return bool(a == b)


def _decayed(
    cid: str, part: str, a: Any, b: Any, at_ms: int, half_life_ms: float
) -> list[Mismatch]:
    """Decayed sums compared at one time (their reference times may differ)."""
    name = "tastes" if part == "t" else "rhythm"
    values = [_at(x, at_ms, half_life_ms) for x in (a, b)]
    mine, theirs = values
    return [
        Mismatch(cid, f"{name}.{key}", mine.get(key), theirs.get(key))
        for key in sorted(mine.keys() | theirs.keys())
        if not _close(mine.get(key, 0.0), theirs.get(key, 0.0))
    ]


def _at(doc: Any, at_ms: int, half_life_ms: float) -> dict[str, float]:
    if not doc:
        return {}
    if doc[0] is None:  # no reference time: sums there are corruption, shown as stored
        return {k: float(v) for k, v in doc[1].items()}
    scale = 2.0 ** (-(at_ms - int(doc[0])) / half_life_ms)
    return {k: round(float(v) * scale, 9) for k, v in doc[1].items()}


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= _RELATIVE * max(abs(a), abs(b)) + _ROUNDING


def count_fields(mismatches: Iterable[Mismatch]) -> Counter[str]:
    """Mismatches by field kind: ``n:purchase`` and ``n:search`` count as ``n:*``,
    ``cart.<item>`` as ``cart``.

    >>> count_fields([Mismatch("c", "n:search", 1, 2), Mismatch("c", "cart.i", 1, 2)])
    Counter({'n:*': 1, 'cart': 1})
    """
    kinds: Counter[str] = Counter()
    for m in mismatches:
        name = m.field
        head, dot, _ = name.partition(".")
        if dot:
            kinds[head] += 1
        else:
            prefix, colon, _ = name.partition(":")
            kinds[f"{prefix}:*" if colon else name] += 1
    return kinds


@dataclass(slots=True)
class Report:
    """What an audit found: customers compared, skipped (by why), and the mismatches."""

    sampled: int = 0
    compared: int = 0
    events: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    mismatches: list[Mismatch] = field(default_factory=list)
    #: The whole run, and of it reading and folding the events.
    elapsed_s: float = 0.0
    read_s: float = 0.0

    @property
    def customers_mismatched(self) -> int:
        return len({m.customer for m in self.mismatches})

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (``stream-app audit --json``)."""
        return {
            "sampled": self.sampled,
            "compared": self.compared,
            "events": self.events,
            "skipped": dict(sorted(self.skipped.items())),
            "customers_mismatched": self.customers_mismatched,
            "mismatches_by_field": dict(count_fields(self.mismatches).most_common()),
            "mismatches": [
                {
                    "customer": m.customer,
                    "field": m.field,
                    "expected": m.expected,
                    "stored": m.stored,
                }
                for m in self.mismatches
            ],
            "elapsed_s": round(self.elapsed_s, 3),
            "read_s": round(self.read_s, 3),
        }
