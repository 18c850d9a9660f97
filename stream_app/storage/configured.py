"""Stores and rules built from ``Settings``, shared by the worker, the API and the CLI.

They live at the storage level (not in ``streaming.app``) so that the API, an
edge package independent of the stream worker, reads profiles exactly as the
worker writes them without importing Faust.
"""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis

from stream_app.profiles.derive import ValueRules
from stream_app.profiles.state import StateLimits
from stream_app.settings import Settings
from stream_app.storage.keys import Keys
from stream_app.storage.profiles import ProfileStore


def value_rules(settings: Settings) -> ValueRules:
    """The derived-field thresholds of ``settings``."""
    return ValueRules(
        taste_half_life=settings.profiles.taste_half_life,
        rhythm_half_life=settings.profiles.rhythm_half_life,
        recency_days=settings.profiles.recency_days_scores,
        frequency=settings.profiles.frequency_scores,
        monetary=settings.profiles.monetary_scores,
        price_bands=settings.profiles.price_bands,
        new_customer_days=settings.profiles.new_customer_days,
        default_interval_days=settings.profiles.default_interval_days,
        min_interval_days=settings.profiles.min_interval_days,
        lifecycle_factors=settings.profiles.lifecycle_factors,
    )


def profile_store(redis: Redis, settings: Settings) -> ProfileStore:
    """The profile store configured by ``settings``."""
    return ProfileStore(
        redis,
        Keys(settings.redis.key_prefix),
        profile_ttl_s=int(settings.profiles.ttl.total_seconds()),
    )


def state_limits(settings: Settings) -> StateLimits:
    """How events are applied to profiles (``profiles.state``), from ``settings``."""
    return StateLimits(
        allowed_lateness_ms=_ms(settings.profiles.allowed_lateness),
        taste_half_life_ms=_ms(settings.profiles.taste_half_life),
        rhythm_half_life_ms=_ms(settings.profiles.rhythm_half_life),
        recent_views=settings.profiles.recent_views,
        recent_searches=settings.profiles.recent_searches,
    )


def _ms(span: timedelta) -> int:
    return int(span.total_seconds() * 1000)
