"""What a stored profile means at a given moment (docs/profile.md, "Derived").

Recency, life cycle and decayed tastes change with time even when no event arrives, so
they are computed at read time from the stored aggregates and an injected ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, get_args

from stream_app.clock import from_ms, to_ms
from stream_app.events.base import Channel
from stream_app.events.clickstream import ClickstreamEvent
from stream_app.profiles.cart import CartLine, cart_line, visible_cart
from stream_app.profiles.lazy import lazy
from stream_app.profiles.money import FxRates, Wallet, wallet_of
from stream_app.profiles.mood import Mood
from stream_app.profiles.presence import Presence
from stream_app.profiles.rhythm import DEFAULT_TIMEZONE, local_week, peak_hours
from stream_app.profiles.state import ProfileState, wished
from stream_app.profiles.value import (
    lifecycle_stage,
    price_band_of,
    score_amount,
    score_recency,
    tier_of,
)

DAY_MS = 86_400_000
#: Event types that mean the customer came to us: every clickstream type.
VISIT_TYPES: tuple[str, ...] = tuple(
    get_args(model.model_fields["type"].annotation)[0]
    for model in get_args(get_args(ClickstreamEvent)[0])
)
_VISIT_FIELDS = tuple(f"last:{t}" for t in VISIT_TYPES)
_CONSENT_FIELDS = tuple((ch, f"consent:{ch}") for ch in get_args(Channel))
#: Sensor context a view exposes (latest reading of each).
_CONTEXT = ("geo", "near_store", "store_distance_m", "weather", "temperature_c")


@dataclass(frozen=True, slots=True)
class ValueRules:
    """Thresholds of the derived value and life-cycle fields (from settings)."""

    taste_half_life: timedelta = timedelta(days=7)
    rhythm_half_life: timedelta = timedelta(days=28)
    recency_days_scores: tuple[float, float, float, float] = (7, 30, 90, 180)
    frequency_scores: tuple[int, int, int, int] = (10, 5, 3, 2)
    monetary_scores: tuple[float, float, float, float] = (1000, 500, 200, 50)
    price_bands: tuple[float, float] = (30, 100)
    new_customer_days: float = 30
    default_interval_days: float = 30
    min_interval_days: float = 1
    lifecycle_factors: tuple[float, float, float] = (1.5, 3.0, 6.0)
    #: The zone of a customer without a ``timezone`` trait (their rhythm was binned in it).
    default_timezone: str = DEFAULT_TIMEZONE
    #: Base-currency figures (monetary, AOV, price band) are derived with these.
    fx: FxRates = field(default_factory=FxRates)


class ProfileView(Mood):
    """A profile as of ``now``: the facts segments, decisions and the API read, each
    computed on first use and kept (most evaluations need a few scalars, not the week)."""

    def __init__(self, state: ProfileState, now: datetime, rules: ValueRules) -> None:
        self.customer_id = state.customer_id
        self.now = now
        self._state = state
        self._fields = state.fields
        self._now_ms = to_ms(now)
        self._rules = rules

    def _int(self, name: str) -> int:
        return int(self._fields.get(name, 0))

    def _ms(self, name: str) -> int | None:
        value = self._fields.get(name)
        return None if value is None else int(value)

    def _text(self, name: str) -> str | None:
        value = self._fields.get(name)
        return None if value is None else str(value)

    @lazy
    def events(self) -> int:
        return self._int("n")

    @lazy
    def counts(self) -> dict[str, int]:
        return {k[2:]: int(v) for k, v in self._fields.items() if k.startswith("n:")}

    @lazy
    def first_seen(self) -> datetime | None:
        return _opt_time(self._ms("first_seen"))

    @lazy
    def last_seen(self) -> datetime | None:
        return _opt_time(self._ms("last_seen"))

    @lazy
    def last_visit(self) -> datetime | None:
        """Latest clickstream event (the customer came to us, rather than a sensor saw them)."""
        stamps = [self._int(name) for name in _VISIT_FIELDS if name in self._fields]
        return from_ms(max(stamps)) if stamps else None

    #: The session now and the customer's pauses (``profiles.presence``).
    presence = lazy(lambda self: Presence.of(self._fields))

    @lazy
    def wallet(self) -> Wallet:
        """Money per currency, exact; base figures from the dated rates."""
        return wallet_of(self._fields, self._rules.fx)

    @lazy
    def orders(self) -> int:
        """Orders net of those returned or cancelled as a whole (never below 0)."""
        return max(self._int("n:purchase") - self._int("returned_orders"), 0)

    @lazy
    def returned_at(self) -> datetime | None:
        """The latest return or cancellation (goods back): replenishment and cross-sell
        messages planned before it have lost their point."""
        stamps = [self._int(f) for f in ("last:return", "last:cancellation") if f in self._fields]
        return from_ms(max(stamps)) if stamps else None

    @lazy
    def recency_days(self) -> float | None:
        last = self._ms("last:purchase")
        return None if last is None else (self._now_ms - last) / DAY_MS

    @lazy
    def monetary(self) -> float:
        """Net spend in the base currency (currencies without a rate add nothing)."""
        return self.wallet.net_base

    @lazy
    def aov(self) -> float | None:
        return self.monetary / self.orders if self.orders else None

    @lazy
    def avg_unit_price(self) -> float | None:
        return self.wallet.avg_unit_price

    @lazy
    def price_band(self) -> str | None:
        avg = self.avg_unit_price
        return None if avg is None else price_band_of(avg, self._rules.price_bands)

    @lazy
    def r(self) -> int:
        return score_recency(self.recency_days, self._rules.recency_days_scores)

    @lazy
    def f(self) -> int:
        return score_amount(self.orders, self._rules.frequency_scores)

    @lazy
    def m(self) -> int:
        return score_amount(self.monetary, self._rules.monetary_scores)

    @lazy
    def is_new(self) -> bool:
        first_seen = self._ms("first_seen")
        return (
            self.orders <= 1
            and first_seen is not None
            and self._now_ms - first_seen <= self._rules.new_customer_days * DAY_MS
        )

    @lazy
    def tier(self) -> str:
        return tier_of(self.r, self.f, self.m, self.is_new)

    @lazy
    def interval_days(self) -> float:
        first, last = self._ms("first:purchase"), self._ms("last:purchase")
        bought = self._int("n:purchase")  # the rhythm of buying: returns do not undo it
        if bought >= 2 and first is not None and last is not None:
            days = (last - first) / (bought - 1) / DAY_MS
            return max(days, self._rules.min_interval_days)
        return self._rules.default_interval_days

    @lazy
    def lifecycle(self) -> str:
        last_purchase = self._ms("last:purchase")
        reference = last_purchase if last_purchase is not None else self._ms("last_seen")
        elapsed = None if reference is None else (self._now_ms - reference) / DAY_MS
        return lifecycle_stage(
            self.is_new, elapsed, self.interval_days, self._rules.lifecycle_factors
        )

    @lazy
    def lifecycle_changes_at(self) -> datetime | None:
        """When the life cycle moves on by time alone (new ends, active turns at risk, ...),
        if it will: segments and triggers over it are due a look then."""
        rules = self._rules
        if self.is_new:
            return from_ms(int(self._int("first_seen") + rules.new_customer_days * DAY_MS))
        last_purchase = self._ms("last:purchase")
        reference = last_purchase if last_purchase is not None else self._ms("last_seen")
        if reference is None:
            return None
        for factor in rules.lifecycle_factors:
            moment = int(reference + factor * self.interval_days * DAY_MS)
            if moment > self._now_ms:
                return from_ms(moment + 1)
        return None

    @lazy
    def next_purchase_due(self) -> datetime | None:
        last = self._ms("last:purchase")
        return None if last is None else from_ms(int(last + self.interval_days * DAY_MS))

    @lazy
    def age(self) -> int | None:
        year = self._ms("birth_year")
        return None if year is None else self.now.year - year

    @lazy
    def gender(self) -> str | None:
        return self._text("gender")

    @lazy
    def timezone(self) -> str | None:
        return self._text("timezone")

    @property
    def local_zone(self) -> str:
        """The zone of the customer's local hours (rhythm, quiet, sends), default included."""
        return self.timezone or self._rules.default_timezone

    @lazy
    def locale(self) -> str | None:
        return self._text("locale")

    @lazy
    def place(self) -> dict[str, str]:
        """``country`` and ``region``, those known (latest traits or purchase)."""
        return {n: str(self._fields[n]) for n in ("country", "region") if n in self._fields}

    @lazy
    def consent(self) -> dict[str, bool]:
        return {ch: self._fields[k] == "1" for ch, k in _CONSENT_FIELDS if k in self._fields}

    def count_of(self, event_type: str) -> int:
        """How many events of ``event_type`` the customer had."""
        return self._int(f"n:{event_type}")

    @lazy
    def tastes(self) -> dict[str, float]:
        return self._state.tastes.at(self._now_ms, self._taste_half_life_ms)

    @lazy
    def _taste_scale(self) -> float:
        ref = self._state.tastes.ref_ms
        return 0.0 if ref is None else 2.0 ** (-(self._now_ms - ref) / self._taste_half_life_ms)

    def taste_of(self, name: str) -> float:
        """One affinity now (``c:<category>``, ``b:<brand>``), without decaying them all."""
        return self._state.tastes.sums.get(name, 0.0) * self._taste_scale

    @property
    def _taste_half_life_ms(self) -> float:
        return self._rules.taste_half_life.total_seconds() * 1000

    @lazy
    def rhythm_local(self) -> tuple[float, ...]:
        half_life_ms = self._rules.rhythm_half_life.total_seconds() * 1000
        return local_week(self._state.rhythm.at(self._now_ms, half_life_ms))

    @lazy
    def cart_lines(self) -> tuple[CartLine, ...]:
        """Every stored cart line, including removed and ordered ones."""
        lines = (cart_line(item, entry) for item, entry in self._state.cart.items())
        return tuple(line for line in lines if line is not None)

    @lazy
    def cart(self) -> tuple[CartLine, ...]:
        """Lines still in the cart."""
        return visible_cart(self.cart_lines, self._ms("last:purchase"))

    def last_of(self, event_type: str) -> int | None:
        """The time (ms) of the customer's latest event of ``event_type``, if any."""
        return self._ms(f"last:{event_type}")

    @lazy
    def viewed(self) -> dict[str, datetime]:
        return {item: from_ms(ms) for item, ms in _newest_first(self.viewed_ms)}

    @lazy
    def viewed_ms(self) -> dict[str, int]:
        """Recently viewed item -> last view (ms), unordered: the cheap form of ``viewed``."""
        return {item: int(v[0]) for item, v in self._state.viewed.items()}

    @lazy
    def viewed_categories(self) -> dict[str, str]:
        """The category each recently viewed item was shown in (when the view named one)."""
        return {item: str(v[1]) for item, v in self._state.viewed.items() if v[1]}

    @lazy
    def searches(self) -> dict[str, datetime]:
        return {q: from_ms(ms) for q, ms in _newest_first(self._state.searches)}

    @property
    def searches_ms(self) -> Mapping[str, int]:
        """Recent query -> last time (ms), unordered: the cheap form of ``searches``."""
        return self._state.searches

    @property
    def now_ms(self) -> int:
        return self._now_ms

    @lazy
    def context(self) -> dict[str, str]:
        f = self._fields
        found = {name: str(f[name]) for name in _CONTEXT if name in f}
        if "@near_store" in f:
            found["near_store_at"] = str(f["@near_store"])
        return found

    @lazy
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
                "orders_gross": self._int("n:purchase"),
                "orders_returned": self._int("returned_orders"),
                "units_returned": self._int("returned_units"),
                **self.wallet.summary(self.aov),
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
                "country": self.place.get("country"),
                "region": self.place.get("region"),
                "consent": dict(self.consent),
            },
            "top_categories": self.top_categories[:5],
            "tastes": {
                k: round(v, 3) for k, v in sorted(self.tastes.items(), key=lambda kv: -kv[1])[:8]
            },
            "active_hours_local": peak_hours(self.rhythm_local),
            "session": self.presence.summary(self._now_ms),
            "cart": [
                {"item_id": c.item_id, "quantity": c.quantity, "price": c.price} for c in self.cart
            ],
            "recently_viewed": list(self.viewed)[:5],
            "wishlist": wished(self._state.wishlist),
            "recent_searches": list(self.searches)[:5],
            "context": dict(self.context),
            **self.mood_summary(),
        }


def derive(state: ProfileState, now: datetime, rules: ValueRules) -> ProfileView:
    """The view of ``state`` at ``now``."""
    return ProfileView(state, now, rules)


def _newest_first(scores: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _opt_time(ms: int | None) -> datetime | None:
    return None if ms is None else from_ms(ms)
