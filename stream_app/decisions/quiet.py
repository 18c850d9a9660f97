"""Quiet hours: the local hours of the night in which no message may land.

The store's window is the default for everyone. A customer's own, consistently
observed activity may open hours at its edges (``fit``; a real store's shoppers do a
quarter of their activity inside 22-08), while legal quiet hours are never opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

HOURS_PER_DAY = 24
DAYS_PER_WEEK = 7
_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Quiet from ``start``:00 to ``end``:00 local time; wraps midnight when ``start > end``;
    ``start == end`` means no quiet hours. ``opened`` hours of day are not quiet for this
    customer (``fit``); ``legal`` hours are quiet whatever ``opened`` says.

    >>> from datetime import UTC
    >>> night = QuietHours(22, 8)
    >>> night.contains(datetime(2026, 6, 1, 23, 30, tzinfo=UTC))
    True
    >>> night.contains(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    False
    >>> night.next_allowed(datetime(2026, 6, 1, 23, 30, tzinfo=UTC)).isoformat()
    '2026-06-02T08:00:00+00:00'
    >>> owl = QuietHours(22, 8, opened=frozenset({22, 23}), legal=QuietHours(23, 6))
    >>> owl.contains(datetime(2026, 6, 1, 22, 30, tzinfo=UTC))
    False
    >>> owl.window(datetime(2026, 6, 1, 23, 30, tzinfo=UTC))
    'legal quiet hours 23:00-06:00'
    """

    start: int
    end: int
    #: Local hours of day inside [start, end) that are not quiet for one customer.
    opened: frozenset[int] = frozenset()
    #: Quiet hours on top that nothing opens (legal limits).
    legal: QuietHours | None = None

    def __post_init__(self) -> None:
        if not (0 <= self.start < HOURS_PER_DAY and 0 <= self.end < HOURS_PER_DAY):
            raise ValueError("quiet hours are whole local hours in [0, 24)")
        if any(not 0 <= hour < HOURS_PER_DAY for hour in self.opened):
            raise ValueError("opened hours are local hours of day in [0, 24)")
        if all(self.quiet_at(hour) for hour in range(HOURS_PER_DAY)):
            raise ValueError("quiet hours must leave some hour of the day")

    def _in_window(self, hour: int) -> bool:
        """Whether ``hour`` is in the store's [start, end), opened or not."""
        if self.start <= self.end:
            return self.start <= hour < self.end
        return hour >= self.start or hour < self.end

    def quiet_at(self, hour: int) -> bool:
        """Whether the local hour of day ``hour`` is quiet."""
        if self.legal is not None and self.legal.quiet_at(hour):
            return True
        return self._in_window(hour) and hour not in self.opened

    def contains(self, local: datetime) -> bool:
        """Whether the local time ``local`` (aware, in the customer's zone) is quiet."""
        return self.quiet_at(local.hour)

    def next_allowed(self, local: datetime) -> datetime:
        """``local`` itself when not quiet, else the start of the first local hour after it
        that is not (same zone; wall-clock hours, as the quiet hours are)."""
        if not self.contains(local):
            return local
        moment = local.replace(minute=0, second=0, microsecond=0)
        while True:  # ends within 24 steps: __post_init__ keeps an hour open
            moment += _HOUR
            if not self.quiet_at(moment.hour):
                return moment

    def window(self, local: datetime) -> str:
        """The quiet hours that hold ``local``, for a suppression's detail."""
        if self.legal is not None and self.legal.contains(local):
            return f"legal {self.legal.window(local)}"
        return f"quiet hours {self.start:02d}:00-{self.end:02d}:00"


@dataclass(frozen=True, slots=True)
class QuietFit:
    """When a customer's own activity opens hours of the store's quiet window (``fit``)."""

    #: Decayed events (rhythm half-life 28 days) an hour of one weekday must hold for
    #: that weekday to count: 0.5 is one event of the last four weeks.
    min_events: float = 0.5
    #: Distinct weekdays on which the hour must count.
    min_days: int = 3
    #: Channels where fitting is allowed: not the regulated ones (sms).
    channels: tuple[str, ...] = ("push", "in_app", "email")


def fit(store: QuietHours, week: Sequence[float], config: QuietFit) -> QuietHours:
    """The store's quiet hours with the customer's consistently active hours opened.

    ``week`` is the customer's 168 local hour-of-week activity (``rhythm_local``). An hour
    of day is consistently active when it holds at least ``min_events`` on at least
    ``min_days`` distinct weekdays, and at least the customer's average hourly activity
    (1/24 of it all). Only the window's edges open, working inward while the next hour
    is consistently active too: a night owl's late evening or an early riser's morning
    opens, a stray 03:00 inside an otherwise quiet night never does. Legal hours stop
    the walk.

    >>> week = [0.0] * 168
    >>> for day in range(3):  # 22:00 and 23:00 on Monday to Wednesday, 03:00 on each
    ...     week[day * 24 + 22] = week[day * 24 + 23] = week[day * 24 + 3] = 2.0
    >>> sorted(fit(QuietHours(22, 8), week, QuietFit()).opened)
    [22, 23]
    >>> fit(QuietHours(22, 8), week, QuietFit(min_days=4)).opened
    frozenset()
    """
    if len(week) != DAYS_PER_WEEK * HOURS_PER_DAY:
        raise ValueError(f"need a 168 hour-of-week vector, got {len(week)} values")
    window = [h % HOURS_PER_DAY for h in range(store.start, store.start + _length(store))]
    average = sum(week) / HOURS_PER_DAY

    def active(hour: int) -> bool:
        days = [week[day * HOURS_PER_DAY + hour] for day in range(DAYS_PER_WEEK)]
        counted = sum(1 for amount in days if amount >= config.min_events)
        legal = store.legal is not None and store.legal.quiet_at(hour)
        return not legal and counted >= config.min_days and sum(days) >= average > 0

    opened: set[int] = set()
    for edge in (window, window[::-1]):  # from the start forward, from the end backward
        for hour in edge:
            if not active(hour):
                break
            opened.add(hour)
    return replace(store, opened=frozenset(opened)) if opened else store


def _length(quiet: QuietHours) -> int:
    """Hours in the store's window (0 when ``start == end``)."""
    return (quiet.end - quiet.start) % HOURS_PER_DAY


def opened_note(quiet: QuietHours | None, hour: int) -> str | None:
    """Why a send at local ``hour`` is inside the store's quiet window, or None when it
    is not: the run of opened hours it falls in.

    >>> owl = QuietHours(22, 8, opened=frozenset({22, 23, 7}))
    >>> opened_note(owl, 23)
    'outside store quiet hours 22:00-08:00: usually active 22:00-00:00 local'
    >>> opened_note(owl, 7), opened_note(owl, 9)
    ('outside store quiet hours 22:00-08:00: usually active 07:00-08:00 local', None)
    """
    if quiet is None or hour not in quiet.opened:
        return None
    first = hour
    while (first - 1) % HOURS_PER_DAY in quiet.opened and (first - 1) % HOURS_PER_DAY != hour:
        first = (first - 1) % HOURS_PER_DAY
    end = (hour + 1) % HOURS_PER_DAY
    while end in quiet.opened and end != first:
        end = (end + 1) % HOURS_PER_DAY
    return (
        f"outside store quiet hours {quiet.start:02d}:00-{quiet.end:02d}:00: "
        f"usually active {first:02d}:00-{end:02d}:00 local"
    )
