"""A customer's weekly rhythm in their own time (docs/profile.md, "Derived"): the stored
UTC hour-of-week activity shifted to local hours, and its peak hours of day."""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Mapping
from datetime import datetime, timedelta

from stream_app.profiles.fold import HOURS_PER_WEEK


def local_week(
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


def peak_hours(week: tuple[float, ...]) -> list[str]:
    """The three strongest local hours of day, e.g. ``['19:00', '20:00', '12:00']``."""
    by_hour = [sum(week[day * 24 + hour] for day in range(7)) for hour in range(24)]
    ranked = sorted(range(24), key=lambda hour: -by_hour[hour])
    return [f"{hour:02d}:00" for hour in ranked[:3] if by_hour[hour] > 0]
