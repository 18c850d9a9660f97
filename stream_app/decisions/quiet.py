"""Quiet hours: the local hours of the night in which no message may land."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Quiet from ``start``:00 to ``end``:00 local time; wraps midnight when ``start > end``;
    ``start == end`` means no quiet hours.

    >>> from datetime import UTC
    >>> night = QuietHours(22, 8)
    >>> night.contains(datetime(2026, 6, 1, 23, 30, tzinfo=UTC))
    True
    >>> night.contains(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    False
    >>> night.next_allowed(datetime(2026, 6, 1, 23, 30, tzinfo=UTC)).isoformat()
    '2026-06-02T08:00:00+00:00'
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        if not (0 <= self.start < 24 and 0 <= self.end < 24):
            raise ValueError("quiet hours are whole local hours in [0, 24)")

    def contains(self, local: datetime) -> bool:
        """Whether the local time ``local`` (aware, in the customer's zone) is quiet."""
        hour = local.hour
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= hour < self.end
        return hour >= self.start or hour < self.end

    def next_allowed(self, local: datetime) -> datetime:
        """``local`` itself when not quiet, else the end of this quiet period (same zone)."""
        if not self.contains(local):
            return local
        end = local.replace(hour=self.end, minute=0, second=0, microsecond=0)
        return end if end > local else end + timedelta(days=1)
