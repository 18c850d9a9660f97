"""How the worker reads records and how events change profiles.

Defaults: where a domain dataclass has a default (``ValueRules``, ``FoldConfig``'s
weights), the setting takes it from there (``default_of``); where it has none
(``StateLimits``, ``DecodeLimits``), the setting below is the one place it is stated.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import Field, field_validator

from stream_app.events.identity import KNOWN_ZONES
from stream_app.events.limits import DecodeLimits
from stream_app.profiles.derive import ValueRules
from stream_app.profiles.fold import FoldConfig
from stream_app.profiles.money import FxRates
from stream_app.profiles.state import StateLimits
from stream_app.settings.base import Section, build, default_of

_VALUE = ValueRules()
_FX = FxRates()


def _ms(span: timedelta) -> int:
    return int(span.total_seconds() * 1000)


class WorkerSettings(Section):
    """The worker process: its group, local state, batching and what records it accepts."""

    app_id: str = Field(default="stream-app", description="Faust app id = consumer group id.")
    data_dir: str = Field(default=".stream-app-data", description="Faust local state directory.")
    batch_gather_ms: float = Field(
        default=2.0,
        gt=0,
        le=1000,
        description="How long the worker gathers the partition batches a fetch returned "
        "into one pass (each pass costs two Redis round trips, whatever its size).",
    )
    stream_buffer_batches: int = Field(
        default=32,
        ge=1,
        description="Fetched partition batches buffered ahead of processing: a pass gathers "
        "at most these, so history over many topics and partitions needs room for them "
        "(BENCHMARKS.md, bench/backfill.py).",
    )
    max_record_bytes: int = Field(
        default=1_048_576, ge=1024, description="Larger records go to DLQ."
    )
    max_events_per_record: int = Field(
        default=1000, ge=1, description="Records carrying more events go to DLQ."
    )
    dlq_max_original_bytes: int = Field(
        default=65_536, ge=0, description="Original bytes kept in a dead letter (rest truncated)."
    )
    max_event_age: timedelta = Field(
        default=timedelta(days=7), description="Events older than this go to DLQ."
    )
    max_event_future_skew: timedelta = Field(
        default=timedelta(minutes=5), description="Events further in the future go to DLQ."
    )
    max_order_lines: int = Field(default=5000, ge=1, description="Longer orders go to DLQ.")
    max_line_quantity: int = Field(default=10**6, ge=1, description="Larger quantities go to DLQ.")

    def decode_limits(self) -> DecodeLimits:
        """Bounds a record must respect."""
        return build(DecodeLimits, self)


class LogSettings(Section):
    """How every process logs."""

    level: Literal["debug", "info", "warn", "error"] = Field(
        default="info", description="Least severe level logged."
    )
    format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per line, for log pipelines."
    )


class ProfileSettings(Section):
    """Profile math (docs/profile.md): decay, recent lists, value scores, life cycle."""

    allowed_lateness: timedelta = Field(
        default=timedelta(days=1),
        description="Events older than the customer's newest event by more than this go to "
        "the late topic, not applied (unless already applied: a duplicate); clickstream and "
        "other event ids are remembered exactly that long, order ids as long as the profile.",
    )
    ttl: timedelta = Field(
        default=timedelta(days=400), description="Profiles untouched this long expire."
    )
    device_link_grace: timedelta = Field(
        default=timedelta(minutes=5),
        gt=timedelta(0),
        description="A sensor reading naming only a device nobody linked yet waits this long "
        "(in Redis) for the identify event that links it, then is dead-lettered as "
        "unknown_device.",
    )
    device_parked_max: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Readings that wait per unlinked device; more are dead-lettered at once.",
    )
    anonymous_ttl: timedelta = Field(
        default=timedelta(days=30),
        gt=timedelta(0),
        description="Anonymous visitors' profiles (not yet linked to a customer) untouched "
        "this long expire (docs/identity.md).",
    )
    taste_half_life: timedelta = Field(
        default=_VALUE.taste_half_life, gt=timedelta(0), description="Half life of tastes."
    )
    rhythm_half_life: timedelta = Field(
        default=_VALUE.rhythm_half_life,
        gt=timedelta(0),
        description="Half life of the weekly activity rhythm.",
    )
    default_timezone: str = Field(
        default=default_of(ValueRules, "default_timezone"),
        description="IANA zone whose local hours bin the rhythm of a customer without a "
        "timezone trait (each such event counts as tz_assumed).",
    )
    taste_weight_view: float = Field(
        default=default_of(FoldConfig, "taste_weight_view"),
        ge=0,
        description="Taste added by a view.",
    )
    taste_weight_cart: float = Field(
        default=default_of(FoldConfig, "taste_weight_cart"),
        ge=0,
        description="Taste added by an add to cart.",
    )
    taste_weight_purchase: float = Field(
        default=default_of(FoldConfig, "taste_weight_purchase"),
        ge=0,
        description="Taste added by a purchase.",
    )
    taste_weight_wishlist: float = Field(
        default=default_of(FoldConfig, "taste_weight_wishlist"),
        ge=0,
        description="Taste added by an add to the wishlist.",
    )
    recent_views: int = Field(default=20, ge=1, le=500, description="Recent views kept.")
    wishlist_size: int = Field(
        default=default_of(StateLimits, "wishlist_size"),
        ge=1,
        le=1000,
        description="Wishlist items kept per customer, removals included (the most recent).",
    )
    zone_pending: int = Field(
        default=default_of(StateLimits, "zone_pending"),
        ge=0,
        le=10_000,
        description="Rhythmic events of a customer without a timezone trait remembered (the "
        "newest, by time) to move to their zone once known; older ones keep the default's hours.",
    )
    recent_searches: int = Field(default=10, ge=1, le=500, description="Recent searches kept.")
    sentiment_half_life: timedelta = Field(
        default=timedelta(milliseconds=default_of(StateLimits, "sentiment_half_life_ms")),
        gt=timedelta(0),
        description="Half life of a remark's weight in the customer's decayed sentiment (the "
        "recency-weighted mean polarity of their reviews and comments).",
    )
    complaints_kept: int = Field(
        default=default_of(StateLimits, "complaints_kept"),
        ge=1,
        le=100,
        description="Recent complaints kept per customer (time, source, what about; no text).",
    )
    negative_below: float = Field(
        default=default_of(FoldConfig, "negative_below"),
        ge=-1,
        le=1,
        description="A review or comment with a polarity at or below this is a complaint: "
        "it triggers service recovery and starts the marketing cool-down.",
    )
    remark_text_weight: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="Weight of the text (the sentiment model) against the stars in a rated "
        "review's polarity; unrated English texts have the model's alone.",
    )
    base_currency: str = Field(
        default=_FX.base,
        pattern=r"^[A-Z]{3}$",
        description="Currency of derived base values (monetary, AOV, price band); amounts "
        "are kept exactly per currency.",
    )
    fx_to_base: dict[str, float] = Field(
        default=dict(_FX.rates),
        description="Units of base currency per unit of each currency, as of fx_rates_date: "
        "base values are derived with them at read time (a currency without a rate is kept "
        "per currency but adds nothing to base values).",
    )
    fx_rates_date: date = Field(
        default=_FX.as_of, description="The date the fx_to_base rates are of (shown by the API)."
    )
    recency_days_scores: tuple[float, float, float, float] = Field(
        default=_VALUE.recency_days_scores,
        description="Days since last purchase for R scores 5..2.",
    )
    frequency_scores: tuple[int, int, int, int] = Field(
        default=_VALUE.frequency_scores, description="Purchases for F scores 5..2."
    )
    monetary_scores: tuple[float, float, float, float] = Field(
        default=_VALUE.monetary_scores, description="Base-currency spend for M scores 5..2."
    )
    price_bands: tuple[float, float] = Field(
        default=_VALUE.price_bands, description="Average unit price bounds of budget, mid, premium."
    )
    new_customer_days: float = Field(
        default=_VALUE.new_customer_days, gt=0, description="A customer this young is new."
    )
    default_interval_days: float = Field(
        default=_VALUE.default_interval_days,
        gt=0,
        description="Purchase interval assumed before a customer has one.",
    )
    min_interval_days: float = Field(
        default=_VALUE.min_interval_days, gt=0, description="Shortest purchase interval used."
    )
    lifecycle_factors: tuple[float, float, float] = Field(
        default=_VALUE.lifecycle_factors,
        description="Purchase intervals without one up to which a customer is active, "
        "at risk, lapsed (beyond: churned).",
    )

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        if name not in KNOWN_ZONES:
            raise ValueError(f"unknown IANA time zone {name!r}")
        return name

    def value_rules(self) -> ValueRules:
        """The derived-field thresholds, and the dated rates base values are derived with."""
        return build(
            ValueRules, self, fx=FxRates(self.base_currency, self.fx_to_base, self.fx_rates_date)
        )

    def state_limits(self) -> StateLimits:
        """How events are applied to profiles (``profiles.state``): the spans in ms."""
        return build(
            StateLimits,
            self,
            allowed_lateness_ms=_ms(self.allowed_lateness),
            taste_half_life_ms=_ms(self.taste_half_life),
            rhythm_half_life_ms=_ms(self.rhythm_half_life),
            sentiment_half_life_ms=_ms(self.sentiment_half_life),
        )

    def fold_config(
        self, pseudonym_secret: bytes, cart_abandon_delay: timedelta | None
    ) -> FoldConfig:
        """What the fold needs: these weights, the secret and the campaigns' delay."""
        return build(
            FoldConfig,
            self,
            pseudonym_secret=pseudonym_secret,
            cart_abandon_delay=cart_abandon_delay,
        )
