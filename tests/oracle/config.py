"""The configured values the oracle needs, with docs/profile.md's defaults.

``OracleConfig.from_settings`` fills it from the engine's ``Settings``, so the
oracle follows whatever the engine under test was configured with; the defaults
(the spec's) serve the hand-computed unit tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from stream_app.settings import DEV_PSEUDONYM_SECRET, Settings

MS_PER_DAY = 86_400_000


def _ms(value: timedelta) -> int:
    return value // timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class OracleConfig:
    """Every knob docs/profile.md names; defaults are the spec's defaults."""

    secret: bytes = DEV_PSEUDONYM_SECRET.encode()
    key_prefix: str = "sa"
    allowed_lateness_ms: int = MS_PER_DAY
    taste_half_life_ms: int = 7 * MS_PER_DAY
    rhythm_half_life_ms: int = 28 * MS_PER_DAY
    #: The zone a customer without a ``timezone`` trait is binned in (profile.md, Rhythm).
    default_timezone: str = "UTC"
    #: Base-currency value of one unit of each currency (``STREAM_APP_PROFILES__FX_TO_BASE``).
    fx_to_base: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({"EUR": 1.0}))
    base_currency: str = "EUR"
    recent_views: int = 20
    recent_searches: int = 10
    wishlist_size: int = 50
    #: Rhythmic events of a customer without a zone moved to it once known (the newest).
    zone_pending: int = 200
    search_max_chars: int = 64
    #: Cohort period activity is marked in, and periods kept (``STREAM_APP_FUNNEL__*``).
    funnel_period: str = "week"
    active_periods: int = 12
    w_view: float = 1.0
    w_cart: float = 3.0
    w_purchase: float = 5.0
    w_wishlist: float = 4.0
    # --- derived: value ------------------------------------------------
    price_budget_below: float = 30.0
    price_mid_below: float = 100.0
    #: recency days <= each -> score 5, 4, 3, 2 (else 1)
    recency_days: tuple[float, float, float, float] = (7.0, 30.0, 90.0, 180.0)
    #: orders >= each -> score 5, 4, 3, 2 (else 1)
    frequency_orders: tuple[int, int, int, int] = (10, 5, 3, 2)
    #: value >= each -> score 5, 4, 3, 2 (else 1)
    monetary_value: tuple[float, float, float, float] = (1000.0, 500.0, 200.0, 50.0)
    # --- derived: lifecycle --------------------------------------------
    new_days: float = 30.0
    default_interval_days: float = 30.0
    active_factor: float = 1.5
    at_risk_factor: float = 3.0
    lapsed_factor: float = 6.0

    @classmethod
    def from_settings(cls, settings: Settings) -> OracleConfig:
        """The values the engine under test was configured with."""
        budget, mid = settings.profiles.price_bands
        active, at_risk, lapsed = settings.profiles.lifecycle_factors
        return cls(
            secret=settings.secrets.pseudonym_secret.get_secret_value().encode(),
            key_prefix=settings.redis.key_prefix,
            allowed_lateness_ms=_ms(settings.profiles.allowed_lateness),
            taste_half_life_ms=_ms(settings.profiles.taste_half_life),
            rhythm_half_life_ms=_ms(settings.profiles.rhythm_half_life),
            default_timezone=settings.profiles.default_timezone,
            fx_to_base=MappingProxyType(dict(settings.profiles.fx_to_base)),
            base_currency=settings.profiles.base_currency,
            recent_views=settings.profiles.recent_views,
            recent_searches=settings.profiles.recent_searches,
            wishlist_size=settings.profiles.wishlist_size,
            zone_pending=settings.profiles.zone_pending,
            funnel_period=settings.funnel.period,
            active_periods=settings.funnel.retention_periods,
            w_view=settings.profiles.taste_weight_view,
            w_cart=settings.profiles.taste_weight_cart,
            w_purchase=settings.profiles.taste_weight_purchase,
            w_wishlist=settings.profiles.taste_weight_wishlist,
            price_budget_below=budget,
            price_mid_below=mid,
            recency_days=settings.profiles.recency_days_scores,
            frequency_orders=settings.profiles.frequency_scores,
            monetary_value=settings.profiles.monetary_scores,
            new_days=settings.profiles.new_customer_days,
            default_interval_days=settings.profiles.default_interval_days,
            active_factor=active,
            at_risk_factor=at_risk,
            lapsed_factor=lapsed,
        )
