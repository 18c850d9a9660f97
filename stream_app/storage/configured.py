"""Stores built from ``Settings``, shared by the worker, the API and the CLI.

They live at the storage level (not in ``streaming.app``) so that the API, an
edge package independent of the stream worker, reads profiles exactly as the
worker writes them without importing Faust.
"""

from __future__ import annotations

from stream_app.settings import Settings
from stream_app.storage.client import RedisClient
from stream_app.storage.layout import Keys
from stream_app.storage.profiles import ProfileStore


def keys_of(settings: Settings) -> Keys:
    """The deployment's key builder: its prefix and schedule shards."""
    return Keys(settings.redis.key_prefix, settings.redis.shards)


def profile_store(redis: RedisClient, settings: Settings) -> ProfileStore:
    """The profile store configured by ``settings``."""
    return ProfileStore(
        redis,
        keys_of(settings),
        profile_ttl_s=int(settings.profiles.ttl.total_seconds()),
        anonymous_ttl_s=int(settings.profiles.anonymous_ttl.total_seconds()),
    )
