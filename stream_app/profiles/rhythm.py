"""A customer's weekly rhythm in their own time (docs/profile.md, "Rhythm"): each event
is binned, when applied, by the customer's local hour of week at the event's own instant
(DST and 30/45-minute offsets exact), so reading it shifts nothing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

HOURS_PER_WEEK = 168
#: The zone assumed for a customer without a ``timezone`` trait (setting
#: ``STREAM_APP_PROFILES__DEFAULT_TIMEZONE``).
DEFAULT_TIMEZONE = "UTC"
#: The stored bucket names, precomputed for the hot path.
BUCKETS = tuple(str(hour) for hour in range(HOURS_PER_WEEK))


def local_hour_of_week(ms: int, zone: ZoneInfo) -> int:
    """The hour of week on the customer's wall clock at the instant ``ms``: the zone's
    offset at that very instant (summer or winter time, +05:30, +05:45), not today's.

    >>> berlin = ZoneInfo("Europe/Berlin")
    >>> march_29 = 1774746000000  # Sunday 2026-03-29 01:00 UTC: 03:00 CEST, just after the jump
    >>> local_hour_of_week(march_29 - 1, berlin), local_hour_of_week(march_29, berlin)
    (145, 147)
    >>> local_hour_of_week(march_29, ZoneInfo("Asia/Kathmandu"))  # 06:45 in Nepal
    150
    """
    local = datetime.fromtimestamp(ms // 1000, zone)  # whole seconds: hours start on one
    return local.weekday() * 24 + local.hour


def local_week(rhythm: Mapping[str, float]) -> tuple[float, ...]:
    """The 168 local hour-of-week buckets as a vector (stored local: nothing to shift)."""
    week = [0.0] * HOURS_PER_WEEK
    for bucket, value in rhythm.items():
        week[int(bucket) % HOURS_PER_WEEK] += value
    return tuple(week)


def peak_hours(week: tuple[float, ...]) -> list[str]:
    """The three strongest local hours of day, e.g. ``['19:00', '20:00', '12:00']``."""
    by_hour = [sum(week[day * 24 + hour] for day in range(7)) for hour in range(24)]
    ranked = sorted(range(24), key=lambda hour: -by_hour[hour])
    return [f"{hour:02d}:00" for hour in ranked[:3] if by_hour[hour] > 0]
