"""Time as a dependency: code that needs "now" takes a ``Clock``; tests pass a fixed one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The system clock, always timezone-aware (UTC)."""
    return datetime.now(UTC)


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (the unit of every stored timestamp)."""
    return int(moment.timestamp() * 1000)


def ms_or_none(moment: datetime | None) -> int | None:
    """``to_ms`` of a moment that may be unknown (a profile's first seen, say)."""
    return None if moment is None else to_ms(moment)


def from_ms(ms: int) -> datetime:
    """Aware UTC datetime of epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, UTC)


@lru_cache(maxsize=1024)
def zone(name: str | None) -> ZoneInfo:
    """A customer's time zone; UTC when unknown or invalid (quiet hours and local hours
    must still apply). Cached: customers share a few hundred zones.

    >>> zone("Europe/Berlin").key, zone(None).key, zone("Mars/Olympus").key, zone("Europe").key
    ('Europe/Berlin', 'UTC', 'UTC', 'UTC')
    """
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("UTC")
