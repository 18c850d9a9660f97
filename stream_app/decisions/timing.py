"""Send-time optimization: when, inside a decision's urgency window, a message should land.

A message read in the customer's usual hours engages several times better than
one that arrives while they are busy or asleep, so every triggered decision is
planned: among the moments its window allows (outside quiet hours, in the
customer's own time zone), the one where the customer's activity share, times
an optional engagement-model score, is highest. Thin histories are pulled
toward a prior (everyone's rhythm) so a newcomer's two visits at 03:00 do not
decide their sends.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from stream_app.clock import zone as find_zone
from stream_app.decisions.quiet import QuietHours
from stream_app.decisions.text import span

HOURS_PER_DAY = 24
DAYS_PER_WEEK = 7
_HOUR = timedelta(hours=1)
_QUARTER = timedelta(minutes=15)


def daily_profile(week: Sequence[float]) -> tuple[float, ...]:
    """24 local hour-of-day activity totals (sum over the 7 weekdays of a 168 hour-of-week
    vector): a few weeks of decayed history say little about one Tuesday 19:00, but
    seven 19:00s together are informative.

    >>> week = [0.0] * 168
    >>> week[19], week[24 + 19], week[6 * 24 + 8] = 1.0, 2.0, 0.5  # Mon, Tue 19:00; Sun 08:00
    >>> day = daily_profile(week)
    >>> day[19], day[8], sum(day)
    (3.0, 0.5, 3.5)
    """
    if len(week) != DAYS_PER_WEEK * HOURS_PER_DAY:
        raise ValueError(f"need a 168 hour-of-week vector, got {len(week)} values")
    return tuple(math.fsum(week[hour::HOURS_PER_DAY]) for hour in range(HOURS_PER_DAY))


def smoothed_shares(
    own: Sequence[float], prior: Sequence[float], strength: float
) -> tuple[float, ...]:
    """Per-hour shares of activity, the customer's own counts pulled toward the prior's
    shares: ``(own_h + strength * prior_share_h) / (sum(own) + strength)``.

    ``strength`` is how much activity the prior is worth: with little history the
    prior decides, with a lot the customer does. An all-zero prior means uniform.
    Works for any equal lengths (24 or 168).

    >>> smoothed_shares([0, 0], [1, 3], strength=10)  # no history: the prior
    (0.25, 0.75)
    >>> smoothed_shares([4, 0], [1, 3], strength=4)  # (4 + 1) / 8, (0 + 3) / 8
    (0.625, 0.375)
    >>> smoothed_shares([1, 0, 0, 0], [0, 0, 0, 0], strength=4)  # zero prior: uniform
    (0.4, 0.2, 0.2, 0.2)
    """
    if len(own) != len(prior) or not own:
        raise ValueError("own and prior need the same, non-zero length")
    if strength < 0 or any(v < 0 for v in own) or any(v < 0 for v in prior):
        raise ValueError("activity and strength must be >= 0")
    prior_total = math.fsum(prior)
    if prior_total > 0:
        prior_shares = [p / prior_total for p in prior]
    else:
        prior_shares = [1.0 / len(prior)] * len(prior)
    total = math.fsum(own) + strength
    if total <= 0:  # no history and a prior worth nothing: the prior is all we have
        return tuple(prior_shares)
    return tuple((o + strength * p) / total for o, p in zip(own, prior_shares, strict=True))


def layered_prior(
    segments: Sequence[Sequence[float]],
    everyone: Sequence[float],
    typical: Sequence[float],
    strength: float,
) -> tuple[float, ...]:
    """The prior a customer's rhythm is pulled toward: their segments' pooled activity,
    itself pulled toward everyone's, itself pulled toward a typical day.

    Each layer is a sum of per-customer shares (one customer-evaluation adds 1.0),
    so ``strength`` (in customers) says how much evidence a layer needs before it
    speaks for itself: a small segment borrows from everyone, a new deployment from
    the typical day.

    >>> layered_prior([], [0.0, 0.0], [1.0, 3.0], strength=10)  # nothing learned yet
    (0.25, 0.75)
    >>> layered_prior([[30.0, 0.0]], [50.0, 50.0], [1.0, 3.0], strength=10)
    (0.8..., 0.1...)
    """
    pooled = [math.fsum(hour) for hour in zip(*segments, strict=True)] if segments else None
    general = smoothed_shares(everyone, typical, strength)
    if pooled is None:
        return general
    return smoothed_shares(pooled, general, strength)


def prior_contributions(
    customers: Sequence[tuple[Sequence[float], Iterable[str]]], everyone: str
) -> dict[str, tuple[float, ...]]:
    """What customers add to the learned priors: each one's hour-of-day activity as
    shares (summing to 1, whatever their volume), to ``everyone`` and to each segment
    they are in. Customers without activity add nothing.

    >>> prior_contributions([((0, 2, 2), ["vip"]), ((1, 0, 0), [])], everyone="*")
    {'*': (1.0, 0.5, 0.5), 'vip': (0.0, 0.5, 0.5)}
    """
    sums: dict[str, list[float]] = {}
    for hours, segments in customers:
        total = math.fsum(hours)
        if total <= 0:
            continue
        for name in (everyone, *segments):
            acc = sums.setdefault(name, [0.0] * len(hours))
            for hour, value in enumerate(hours):
                acc[hour] += value / total
    return {name: tuple(acc) for name, acc in sums.items()}


@dataclass(frozen=True, slots=True)
class SendPlan:
    """When to send and why it beats sending at once.

    ``send_at`` is aware UTC (a whole local hour when deferred); ``expected`` the value maximized
    there, ``expected_at_earliest`` the same value at the earliest allowed moment
    (the window's start, or the end of the quiet hours it falls in); ``deferred``
    whether ``send_at`` is later than that moment. ``local_hour`` and
    ``local_minute`` are the customer's wall clock at ``send_at`` (the minute is
    not ``send_at.minute`` in zones such as Asia/Kolkata, +05:30).
    """

    send_at: datetime
    expected: float
    expected_at_earliest: float
    local_hour: int
    deferred: bool
    local_minute: int = 0
    #: The earliest allowed moment and its local hour (what waiting is weighed against).
    earliest_at: datetime | None = None
    earliest_hour: int = 0


def plan_send(
    *,
    earliest: datetime,
    latest: datetime,
    timezone: str | None,
    hourly: Sequence[float] | None = None,
    quiet: QuietHours | None = None,
    score_at: Callable[[Sequence[datetime]], Sequence[float]] | None = None,
    value_at: Callable[[datetime, int], float] | None = None,
) -> SendPlan | None:
    """The best moment in ``[earliest, latest]`` to send, or None if quiet hours fill it.

    ``hourly``: 24 local hour-of-day activity shares (``smoothed_shares``), or instead
    ``value_at``: the value of a moment (UTC) at its local hour (``moments.Outlook``'s
    chance of being read, times the share of value left).
    Candidates are the earliest allowed moment (``earliest`` itself: "now" waits
    for nothing) and every start of a local hour in ``(earliest, latest]`` (where DST
    skips an hour, that hour has no start; where it repeats one, both): within an
    hour the share is flat, so later minutes of it could only lose urgency. A
    candidate in quiet hours moves to their end (``QuietHours.next_allowed``) and
    is dropped past ``latest``. The value is ``hourly[local hour]`` times
    the score ``score_at`` gives it when given (an engagement model's scores for
    sending at each candidate, asked once for all of them); ties go to the earlier
    time, as sooner is better when nothing says otherwise. Urgency is the window's
    job: inside it the plan will wait up to a day for a better hour. An unknown or
    invalid ``timezone`` counts as UTC.

    >>> evening = [1.0 if 19 <= h < 22 else 0.1 for h in range(24)]
    >>> trigger = datetime(2026, 6, 1, 12, 5, 30, tzinfo=UTC)  # 14:05:30 in Berlin
    >>> plan = plan_send(earliest=trigger, latest=trigger + timedelta(hours=24),
    ...                  timezone="Europe/Berlin", hourly=evening, quiet=QuietHours(22, 8))
    >>> plan.send_at.isoformat(), plan.local_hour, plan.deferred  # 19:00 Berlin
    ('2026-06-01T17:00:00+00:00', 19, True)
    >>> plan.expected, plan.expected_at_earliest
    (1.0, 0.1)
    """
    if earliest.utcoffset() is None or latest.utcoffset() is None:
        raise ValueError("earliest and latest must be timezone-aware")
    if (hourly is None) == (value_at is None):
        raise ValueError("give either hourly shares or value_at")
    if hourly is not None and len(hourly) != HOURS_PER_DAY:
        raise ValueError(f"need 24 hourly shares, got {len(hourly)}")
    zone = find_zone(timezone)
    moments = _candidates(earliest.astimezone(UTC), latest.astimezone(UTC), zone, quiet)
    if not moments:
        return None
    local = [moment.astimezone(zone) for moment in moments]
    if hourly is not None:
        values = [float(hourly[at.hour]) for at in local]
    else:
        assert value_at is not None
        values = [value_at(m, at.hour) for m, at in zip(moments, local, strict=True)]
    if score_at is not None:
        values = [v * s for v, s in zip(values, score_at(moments), strict=True)]
    best = values.index(max(values))  # the earliest of equals: sooner is better
    return SendPlan(
        send_at=moments[best],
        expected=values[best],
        expected_at_earliest=values[0],
        local_hour=local[best].hour,
        deferred=best > 0,
        local_minute=local[best].minute,
        earliest_at=moments[0],
        earliest_hour=local[0].hour,
    )


def _candidates(
    start: datetime, latest: datetime, zone: ZoneInfo, quiet: QuietHours | None
) -> list[datetime]:
    """The moments ``plan_send`` weighs, in order: the earliest allowed one, then each
    start of a local hour up to ``latest``, moved past quiet hours (once per night)."""
    first = _allowed(start, zone, quiet)
    if first > latest:
        return []
    moments = [first]
    hour = _next_hour_start(start, zone)
    horizon = math.ceil((latest - hour) / _HOUR)
    for candidate in _hour_candidates(hour, horizon, zone, quiet) if horizon >= 0 else ():
        if candidate > latest:  # in order: moving past quiet hours keeps the order
            break
        if candidate != moments[-1]:
            moments.append(candidate)
    return moments


@lru_cache(maxsize=4096)
def _hour_candidates(
    hour: datetime, horizon: int, zone: ZoneInfo, quiet: QuietHours | None
) -> tuple[datetime, ...]:
    """The local hour starts from ``hour`` to ``horizon`` hours later, each moved past
    quiet hours, repeats dropped. Cached: every customer of a zone planned within the
    same hour (for a window of the same length) has the same ones."""
    moments: list[datetime] = []
    moment, last = hour, hour + horizon * _HOUR
    while moment <= last:
        candidate = _allowed(moment, zone, quiet)
        if not moments or candidate != moments[-1]:
            moments.append(candidate)
        moment = _next_hour_start(moment, zone)
    return tuple(moments)


def active_window(hourly: Sequence[float]) -> tuple[int, int] | None:
    """The customer's usual active span, for explanations: ``(start, end)`` local hours,
    end exclusive, wrapping midnight when ``end <= start`` (``(22, 2)``: 22:00-02:00);
    ``(0, 24)`` is all day; None without any activity.

    The run of hours around the peak (the earliest, on ties) extended on both sides,
    circularly, while the neighbouring hour holds at least half the peak's activity:
    simple, and it names the stretch where most of the activity sits.

    >>> active_window([0.0] * 19 + [0.5, 1.0, 0.9, 0.2, 0.0])
    (19, 22)
    >>> active_window([0.6, 0.2] + [0.0] * 21 + [1.0])  # 23:00-01:00, over midnight
    (23, 1)
    >>> active_window([1.0] * 24), active_window([0.0] * 24)
    ((0, 24), None)
    """
    if len(hourly) != HOURS_PER_DAY:
        raise ValueError(f"need 24 hourly values, got {len(hourly)}")
    peak = max(range(HOURS_PER_DAY), key=lambda h: (hourly[h], -h))
    if hourly[peak] <= 0:
        return None
    floor = hourly[peak] / 2.0
    start, length = peak, 1
    while length < HOURS_PER_DAY and hourly[(start - 1) % HOURS_PER_DAY] >= floor:
        start, length = (start - 1) % HOURS_PER_DAY, length + 1
    while length < HOURS_PER_DAY and hourly[(start + length) % HOURS_PER_DAY] >= floor:
        length += 1
    if length == HOURS_PER_DAY:
        return (0, HOURS_PER_DAY)
    return (start, (start + length) % HOURS_PER_DAY)


def describe_plan(plan: SendPlan, hourly: Sequence[float], now: datetime) -> str:
    """Short human text for a decision's explanation.

    >>> evening = [1.0 if 19 <= h < 22 else 0.1 for h in range(24)]
    >>> plan = SendPlan(datetime(2026, 6, 1, 17, tzinfo=UTC), 1.0, 0.1, 19, True)
    >>> describe_plan(plan, evening, datetime(2026, 6, 1, 13, 40, tzinfo=UTC))
    'usually active 19:00-22:00 local; sending in 3 h 20 min at 19:00'
    >>> describe_plan(plan, [0.0] * 24, datetime(2026, 6, 1, 16, 59, 45, tzinfo=UTC))
    'no usual hours known yet; sending now'
    """
    usual = usual_hours(hourly)
    wait_s = (plan.send_at - now).total_seconds()
    if wait_s < 60:
        return f"{usual}; sending now"
    at = f"{plan.local_hour:02d}:{plan.local_minute:02d}"
    return f"{usual}; sending in {span(timedelta(minutes=round(wait_s / 60)))} at {at}"


def usual_hours(hourly: Sequence[float]) -> str:
    """The customer's usual active span in words (``active_window``).

    >>> usual_hours([1.0 if 19 <= h < 22 else 0.1 for h in range(24)])
    'usually active 19:00-22:00 local'
    """
    window = active_window(hourly)
    if window is None:
        return "no usual hours known yet"
    if window == (0, HOURS_PER_DAY):
        return "usually active all day"
    return f"usually active {window[0]:02d}:00-{window[1]:02d}:00 local"


def _allowed(moment: datetime, zone: ZoneInfo, quiet: QuietHours | None) -> datetime:
    """``moment`` (UTC) moved past the quiet hours it falls in, back in UTC."""
    if quiet is None:
        return moment
    return quiet.next_allowed(moment.astimezone(zone)).astimezone(UTC)


def _next_hour_start(after: datetime, zone: ZoneInfo) -> datetime:
    """The first instant after ``after`` (UTC) at which a local hour of day begins.

    An hour after the current local hour's start, unless the UTC offset moved by a
    part of an hour in between (Lord Howe's 30-minute DST, whose 02:00 hour starts
    at 02:30 the day clocks go forward): then the quarter hours are walked to the
    next whole local hour or change of local hour, every zone's offset being a
    multiple of 15 minutes.

    >>> kolkata = ZoneInfo("Asia/Kolkata")
    >>> _next_hour_start(datetime(2026, 6, 1, 12, 5, tzinfo=UTC), kolkata).isoformat()
    '2026-06-01T12:30:00+00:00'
    """
    local = after.astimezone(zone)
    moment = (
        after
        + _HOUR
        - timedelta(minutes=local.minute, seconds=local.second, microseconds=local.microsecond)
    )
    if moment.astimezone(zone).minute == 0:
        return moment
    moment = after.replace(minute=after.minute - after.minute % 15, second=0, microsecond=0)
    while True:
        moment += _QUARTER
        wall = moment.astimezone(zone)
        if wall.minute == 0 or wall.hour != local.hour:
            return moment
