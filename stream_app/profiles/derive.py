"""What a stored profile means at a given moment (docs/profile.md, "Derived").

Recency, life cycle and decayed tastes change with time even when no event
arrives, so they are computed at read time from the stored aggregates and an
injected ``now``, never stored.
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, get_args

from stream_app.clock import from_ms, to_ms
from stream_app.events.clickstream import ClickstreamEvent
from stream_app.profiles.cart import CartLine
from stream_app.profiles.fold import HOURS_PER_WEEK

DAY_MS = 86_400_000
#: Event types that mean the customer came to us: every clickstream type.
VISIT_TYPES: tuple[str, ...] = tuple(
    get_args(model.model_fields["type"].annotation)[0]
    for model in get_args(get_args(ClickstreamEvent)[0])
)


@dataclass(frozen=True, slots=True)
class DecayedSums:
    """A stored decayed-sum hash: ``value(T) = stored * 2^(-(T - ref) / H)``."""

    ref_ms: int | None = None
    stored: Mapping[str, float] = field(default_factory=dict)

    def at(self, when_ms: int, half_life_ms: float) -> dict[str, float]:
        """Every sum evaluated at ``when_ms``.

        >>> DecayedSums(0, {"c:shoes": 4.0}).at(7 * DAY_MS, 7 * DAY_MS)
        {'c:shoes': 2.0}
        """
        if self.ref_ms is None:
            return {}
        scale = 2.0 ** (-(when_ms - self.ref_ms) / half_life_ms)
        return {name: value * scale for name, value in self.stored.items()}


@dataclass(frozen=True, slots=True)
class StoredProfile:
    """Everything stored for one customer (read in one pipeline by the store)."""

    customer_id: str
    fields: Mapping[str, str]
    tastes: DecayedSums = DecayedSums()
    rhythm: DecayedSums = DecayedSums()
    cart: tuple[CartLine, ...] = ()
    viewed: Mapping[str, int] = field(default_factory=dict)
    searches: Mapping[str, int] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return bool(self.fields)


@dataclass(frozen=True, slots=True)
class ValueRules:
    """Thresholds of the derived value and life-cycle fields (from settings)."""

    taste_half_life: timedelta = timedelta(days=7)
    rhythm_half_life: timedelta = timedelta(days=28)
    recency_days: tuple[float, float, float, float] = (7, 30, 90, 180)
    frequency: tuple[int, int, int, int] = (10, 5, 3, 2)
    monetary: tuple[float, float, float, float] = (1000, 500, 200, 50)
    price_bands: tuple[float, float] = (30, 100)
    new_customer_days: float = 30
    default_interval_days: float = 30
    min_interval_days: float = 1
    lifecycle_factors: tuple[float, float, float] = (1.5, 3.0, 6.0)


@dataclass(frozen=True, slots=True)
class ProfileView:
    """A profile as of ``now``: the facts segments, decisions and the API read."""

    customer_id: str
    now: datetime
    events: int
    counts: Mapping[str, int]
    first_seen: datetime | None
    last_seen: datetime | None
    #: Latest clickstream event (the customer came to us, rather than a sensor saw them).
    last_visit: datetime | None
    orders: int
    recency_days: float | None
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
    next_purchase_due: datetime | None
    age: int | None
    gender: str | None
    timezone: str | None
    locale: str | None
    consent: Mapping[str, bool]
    tastes: Mapping[str, float]
    rhythm_local: tuple[float, ...]
    cart: tuple[CartLine, ...]
    viewed: Mapping[str, datetime]
    searches: Mapping[str, datetime]
    context: Mapping[str, str]

    @property
    def top_categories(self) -> list[str]:
        """Categories by current affinity, strongest first."""
        ranked = sorted(
            ((v, k[2:]) for k, v in self.tastes.items() if k.startswith("c:")), reverse=True
        )
        return [name for _, name in ranked]

    @property
    def cart_value(self) -> float:
        return sum(line.price * line.quantity for line in self.cart)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for the demo and the API)."""
        return {
            "customer_id": self.customer_id,
            "as_of": self.now.isoformat(),
            "events": self.events,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "value": {
                "orders": self.orders,
                "monetary": round(self.monetary, 2),
                "aov": None if self.aov is None else round(self.aov, 2),
                "recency_days": None if self.recency_days is None else round(self.recency_days, 2),
                "rfm": f"{self.r}{self.f}{self.m}",
                "tier": self.tier,
                "price_band": self.price_band,
            },
            "lifecycle": {
                "stage": self.lifecycle,
                "interval_days": round(self.interval_days, 2),
                "next_purchase_due": _iso(self.next_purchase_due),
            },
            "traits": {
                "age": self.age,
                "gender": self.gender,
                "timezone": self.timezone,
                "locale": self.locale,
                "consent": dict(self.consent),
            },
            "top_categories": self.top_categories[:5],
            "tastes": {
                k: round(v, 3) for k, v in sorted(self.tastes.items(), key=lambda kv: -kv[1])[:8]
            },
            "active_hours_local": _peak_hours(self.rhythm_local),
            "cart": [
                {"item_id": c.item_id, "quantity": c.quantity, "price": c.price} for c in self.cart
            ],
            "recently_viewed": list(self.viewed)[:5],
            "recent_searches": list(self.searches)[:5],
            "context": dict(self.context),
        }


def derive(stored: StoredProfile, now: datetime, rules: ValueRules) -> ProfileView:
    """The view of ``stored`` at ``now``."""
    f = stored.fields
    now_ms = to_ms(now)
    orders = _int(f.get("n:purchase"))
    last_purchase = _opt_int(f.get("last:purchase"))
    first_purchase = _opt_int(f.get("first:purchase"))
    first_seen = _opt_int(f.get("first_seen"))
    last_seen = _opt_int(f.get("last_seen"))
    monetary = float(f.get("value", 0.0))
    units = _int(f.get("units"))
    avg_unit = float(f.get("units_value", 0.0)) / units if units else None
    recency = None if last_purchase is None else (now_ms - last_purchase) / DAY_MS
    r = _score_low(recency, rules.recency_days)
    fr = _score_high(orders, rules.frequency)
    m = _score_high(monetary, rules.monetary)
    is_new = (
        orders <= 1
        and first_seen is not None
        and (now_ms - first_seen <= rules.new_customer_days * DAY_MS)
    )
    interval = rules.default_interval_days
    if orders >= 2 and first_purchase is not None and last_purchase is not None:
        interval = max(
            (last_purchase - first_purchase) / (orders - 1) / DAY_MS, rules.min_interval_days
        )
    reference = last_purchase if last_purchase is not None else last_seen
    elapsed = None if reference is None else (now_ms - reference) / DAY_MS
    birth_year = _opt_int(f.get("birth_year"))
    tastes = stored.tastes.at(now_ms, rules.taste_half_life.total_seconds() * 1000)
    rhythm = stored.rhythm.at(now_ms, rules.rhythm_half_life.total_seconds() * 1000)
    timezone = f.get("timezone")
    return ProfileView(
        customer_id=stored.customer_id,
        now=now,
        events=_int(f.get("n")),
        counts={k[2:]: int(v) for k, v in f.items() if k.startswith("n:")},
        first_seen=None if first_seen is None else from_ms(first_seen),
        last_seen=None if last_seen is None else from_ms(last_seen),
        last_visit=_latest(f, VISIT_TYPES),
        orders=orders,
        recency_days=recency,
        monetary=monetary,
        aov=monetary / orders if orders else None,
        avg_unit_price=avg_unit,
        price_band=None if avg_unit is None else _band(avg_unit, rules.price_bands),
        r=r,
        f=fr,
        m=m,
        tier=_tier(r, fr, m, is_new),
        interval_days=interval,
        lifecycle=_lifecycle(is_new, elapsed, interval, rules.lifecycle_factors),
        next_purchase_due=(
            None if last_purchase is None else from_ms(int(last_purchase + interval * DAY_MS))
        ),
        age=None if birth_year is None else now.year - birth_year,
        gender=f.get("gender"),
        timezone=timezone,
        locale=f.get("locale"),
        consent={k[8:]: v == "1" for k, v in f.items() if k.startswith("consent:")},
        tastes=tastes,
        rhythm_local=_local_week(rhythm, timezone, now),
        cart=_visible_cart(stored.cart, last_purchase),
        viewed={k: from_ms(v) for k, v in _newest_first(stored.viewed)},
        searches={k: from_ms(v) for k, v in _newest_first(stored.searches)},
        context={
            name: f[name]
            for name in ("geo", "near_store", "store_distance_m", "weather", "temperature_c")
            if name in f
        }
        | ({"near_store_at": f["@near_store"]} if "@near_store" in f else {}),
    )


def _tier(r: int, f: int, m: int, is_new: bool) -> str:
    if r >= 4 and f >= 4 and m >= 4:
        return "vip"
    if f >= 3 and r >= 3:
        return "loyal"
    return "new" if is_new else "regular"


def _lifecycle(
    is_new: bool, elapsed_days: float | None, interval: float, factors: tuple[float, float, float]
) -> str:
    """new → active → at_risk → lapsed → churned, against the customer's own rhythm.

    >>> _lifecycle(False, 40, 30, (1.5, 3, 6)), _lifecycle(False, 50, 30, (1.5, 3, 6))
    ('active', 'at_risk')
    """
    if is_new:
        return "new"
    if elapsed_days is None:
        return "churned"
    active, at_risk, lapsed = factors
    if elapsed_days <= active * interval:
        return "active"
    if elapsed_days <= at_risk * interval:
        return "at_risk"
    if elapsed_days <= lapsed * interval:
        return "lapsed"
    return "churned"


def _score_low(days: float | None, bounds: tuple[float, ...]) -> int:
    """5 for the most recent bound met, down to 1 (or never)."""
    if days is None:
        return 1
    for score, bound in zip((5, 4, 3, 2), bounds, strict=True):
        if days <= bound:
            return score
    return 1


def _score_high(amount: float, bounds: tuple[float, ...]) -> int:
    for score, bound in zip((5, 4, 3, 2), bounds, strict=True):
        if amount >= bound:
            return score
    return 1


def _band(avg: float, bounds: tuple[float, float]) -> str:
    return "budget" if avg < bounds[0] else "mid" if avg < bounds[1] else "premium"


def _visible_cart(lines: tuple[CartLine, ...], last_purchase: int | None) -> tuple[CartLine, ...]:
    """Lines still in the cart: added after their removal and after the last order."""
    floor = last_purchase or 0
    return tuple(
        sorted(
            (line for line in lines if line.added_ms > floor and not line.removed),
            key=lambda line: (line.added_ms, line.item_id),
        )
    )


def _local_week(
    rhythm: Mapping[str, float], timezone: str | None, now: datetime
) -> tuple[float, ...]:
    """UTC hour-of-week buckets shifted by the customer's current UTC offset (whole hours,
    rounded down: +05:30 shifts by 5)."""
    offset_h = 0
    if timezone:
        try:
            offset = now.astimezone(zoneinfo.ZoneInfo(timezone)).utcoffset() or timedelta(0)
            offset_h = math.floor(offset.total_seconds() / 3600)
        except zoneinfo.ZoneInfoNotFoundError:
            offset_h = 0
    week = [0.0] * HOURS_PER_WEEK
    for bucket, value in rhythm.items():
        week[(int(bucket) + offset_h) % HOURS_PER_WEEK] += value
    return tuple(week)


def _peak_hours(week: tuple[float, ...]) -> list[str]:
    """The three strongest local hours of day, e.g. ``['19:00', '20:00', '12:00']``."""
    by_hour = [sum(week[day * 24 + hour] for day in range(7)) for hour in range(24)]
    ranked = sorted(range(24), key=lambda hour: -by_hour[hour])
    return [f"{hour:02d}:00" for hour in ranked[:3] if by_hour[hour] > 0]


def _newest_first(scores: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _latest(fields: Mapping[str, str], types: Sequence[str]) -> datetime | None:
    """The latest ``last:<type>`` time among ``types``."""
    stamps = [int(fields[f"last:{t}"]) for t in types if f"last:{t}" in fields]
    return from_ms(max(stamps)) if stamps else None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _int(value: str | None) -> int:
    return 0 if value is None else int(value)


def _opt_int(value: str | None) -> int | None:
    return None if value is None else int(value)
