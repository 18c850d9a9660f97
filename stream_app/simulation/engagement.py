"""Ground truth of engagement for simulated customers, and a known change of it.

The engagement model is judged against this: ``p_engage`` is what a customer
*really* does with a message, ``TasteShift`` changes it for a known share of
customers at a known time, so a bench can tell whether a model follows "red
today, blue tomorrow" and how fast.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType

from stream_app.simulation.catalog import CATEGORIES
from stream_app.simulation.population import Customer

#: Engagement multiplier outside the customer's active hours (inside: 1.0).
IDLE_FACTOR = 0.25
#: Share of a favourite's appeal that an unloved category keeps.
TASTE_FLOOR = 0.08
#: Relative uplift of an offer for a fully price-sensitive customer.
OFFER_UPLIFT: Mapping[str, float] = MappingProxyType(
    {"none": 0.0, "free_shipping": 0.4, "discount": 0.8}
)


def is_active_hour(customer: Customer, local_hour: int) -> bool:
    """Whether ``local_hour`` falls in one of the customer's active windows (may wrap midnight).

    >>> from stream_app.simulation.population import make_population
    >>> c = replace(make_population(1, seed=1)[0], active_hours=((22, 2),))
    >>> is_active_hour(c, 23), is_active_hour(c, 1), is_active_hour(c, 12)
    (True, True, False)
    """
    return any(
        start <= local_hour < end if start <= end else (local_hour >= start or local_hour < end)
        for start, end in customer.active_hours
    )


def p_engage(
    customer: Customer,
    category: str | None,
    offer: str,
    send_at_local_hour: int,
    appeal: float = 1.0,
) -> float:
    """Chance that ``customer`` engages (opens and clicks) with a message.

    Responsiveness sets the level; the message's category against the
    customer's favourite, the hour it lands in, the category's appeal to
    everyone (``TasteShift.appeal``: fashion) and, for price-sensitive
    customers, the offer move it.
    """
    level = 0.05 + 0.4 * customer.responsiveness
    hour = 1.0 if is_active_hour(customer, send_at_local_hour) else IDLE_FACTOR
    taste = TASTE_FLOOR + (1.0 - TASTE_FLOOR) * customer.taste(category)
    uplift = 1.0 + OFFER_UPLIFT.get(offer, 0.0) * customer.price_sensitivity
    return min(1.0, level * hour * taste * uplift * appeal)


@dataclass(frozen=True, slots=True)
class TasteShift:
    """From ``at`` on, fashion moves and a ``share`` of customers change what and when they like.

    Fashion: for everyone, the categories in fashion (``fashion_boost`` times the
    appeal; 1.0 turns fashion off) are ``past_trend`` before ``at`` and ``trend``
    after. The changed customers (a deterministic share) swap their favourite
    categories for the ``trend`` ones (the same few for everyone, chosen by
    ``seed``: a trend, not noise) and move their active hours by ``hour_shift``.
    """

    at: datetime
    share: float
    seed: int
    hour_shift: int = 12
    trend_size: int = 4
    fashion_boost: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ValueError("share must be in [0, 1]")
        if self.at.utcoffset() is None:
            raise ValueError("at must be timezone-aware")

    @property
    def trend(self) -> tuple[str, ...]:
        """The categories shifted customers turn to, most popular first."""
        return _sample(f"trend:{self.seed}", self.trend_size, ())

    @property
    def past_trend(self) -> tuple[str, ...]:
        """The categories in fashion before the change (none of them in ``trend``)."""
        return _sample(f"past-trend:{self.seed}", self.trend_size, self.trend)

    def appeal(self, category: str | None, when: datetime) -> float:
        """How much fashion lifts ``category`` for everyone at ``when``: ``fashion_boost``
        for the categories in fashion (``past_trend`` before ``at``, ``trend`` after), else 1.

        No profile records fashion; only a model that keeps learning sees it move.
        """
        in_fashion = self.trend if when >= self.at else self.past_trend
        return self.fashion_boost if category in in_fashion else 1.0

    def affects(self, customer: Customer) -> bool:
        """Whether ``customer`` is one of those who change (same answer for every call)."""
        return random.Random(f"shift:{self.seed}:{customer.customer_id}").random() < self.share

    def customer_at(self, customer: Customer, when: datetime) -> Customer:
        """The customer as they are at ``when``."""
        if when < self.at or not self.affects(customer):
            return customer
        return self.shifted(customer)

    def shifted(self, customer: Customer) -> Customer:
        """The customer after the change: favourites swapped for trends, hours moved."""
        weights = dict(customer.tastes)
        average = 1.0 / len(weights)
        favourites = sorted((w, name) for name, w in weights.items() if w > average)
        favourites.reverse()
        targets = [name for name in self.trend if weights[name] <= average]
        for (weight, name), target in zip(favourites, targets, strict=False):
            weights[name], weights[target] = weights[target], weight
        hours = tuple(
            ((start + self.hour_shift) % 24, (end + self.hour_shift) % 24)
            for start, end in customer.active_hours
        )
        return replace(
            customer, tastes=tuple((n, weights[n]) for n, _ in customer.tastes), active_hours=hours
        )


@lru_cache(maxsize=64)
def _sample(seed: str, size: int, excluded: tuple[str, ...]) -> tuple[str, ...]:
    """``size`` categories not in ``excluded``, the same for the same ``seed`` (cached: hot)."""
    names = [spec.name for spec in CATEGORIES if spec.name not in excluded]
    return tuple(random.Random(seed).sample(names, size))
