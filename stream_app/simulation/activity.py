"""Realistic activity: when each synthetic customer is actually on the site.

The clean mode (``Customer.active_hours``, ``EventGenerator``) gives everyone one
tidy daily peak, which flatters any timing model (issue 17: 0.908 hit rate on the
simulator against ~0.2 on a real shop's log). This mode draws what real logs show
instead: sessions as bursts of events, heavy-tailed gaps between sessions with
quick returns, weekday/weekend differences, night owls, many customers with only a
few sessions and preferred hours that drift over weeks. It is anchored on the
same ``Customer`` (home zone, ``active_hours``, ``activity``) so both modes
describe the same people. The drawn sessions are the *truth* a send is scored
against (``active_within``). Pure: time comes in as parameters, randomness from
seeded ``random.Random``; the README's "Simulated activity" says why each part.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from stream_app.profiles.presence import SESSION_GAP_MS
from stream_app.simulation.population import Customer

#: Week 0 of the weekly spells and of the drift (a Monday, UTC).
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_WEEK = timedelta(weeks=1)
#: Share of a day's activity spread evenly over all hours (nobody is never on).
_FLOOR = 0.08
#: Median and most fresh sessions a week (lognormal across customers).
#: Occasional customers (this share) visit ~1.5 times a week, regulars ~45 times: most
#: customers have a few sessions, most sessions (and triggers) come from regulars.
_OCCASIONAL = 0.6
_MEDIAN_PER_WEEK = (1.5, 45.0)
_MOST_PER_WEEK = 150.0
#: Range of the concentration of the hour preference (von Mises kappa).
_KAPPA = (1.5, 3.0)
#: Median hours for the wish to visit to come back after a visit (lognormal).
_MEDIAN_REST_H = 3.0
#: Share of customers whose preferred hours drift over the weeks.
_DRIFTING = 0.3


@dataclass(frozen=True, slots=True)
class Activity:
    """One customer's drawn habits; every field is explained in the README."""

    customer_id: str
    timezone: str
    #: Fresh (non-return) sessions per week on average; lognormal across customers.
    sessions_per_week: float
    #: Local hour-of-day centres of the preference and their weights (sum 1).
    peaks: tuple[tuple[float, float], ...]
    #: Concentration of the von Mises hour preference (higher = sharper peak).
    kappa: float
    #: Multiplier of the session rate on local Saturdays and Sundays.
    weekend_factor: float
    #: Hours the preference moves later on weekends.
    weekend_shift_h: float
    #: Amplitude (hours) and period (weeks) of the slow drift of the preferred hours.
    drift_h: float
    drift_weeks: float
    #: Chance a session is followed by a return within about an hour.
    return_share: float
    #: Shape of the gamma-distributed weekly interest (lower = spells and lulls).
    spell_shape: float
    #: Hours after a visit for the wish to visit again to come back (1 - e^(-t/rest)):
    #: right after shopping, few shop again.
    rest_h: float = 0.0

    def hour_weight(self, when: datetime) -> float:
        """Relative session rate at ``when`` (aware): mean ~1 over a weekday."""
        local = when.astimezone(ZoneInfo(self.timezone))
        hour = local.hour + local.minute / 60
        weekend = local.weekday() >= 5
        shift = self.drift_at(when) + (self.weekend_shift_h if weekend else 0.0)
        preference = sum(
            share * _von_mises(hour - centre - shift, self.kappa) for centre, share in self.peaks
        )
        day = self.weekend_factor if weekend else 1.0
        return day * (_FLOOR + (1 - _FLOOR) * preference)

    def drift_at(self, when: datetime) -> float:
        """Hours the preferred time has moved at ``when``: a slow sine over the weeks."""
        if self.drift_h == 0.0:
            return 0.0
        weeks = (when - EPOCH) / _WEEK
        return self.drift_h * math.sin(2 * math.pi * weeks / self.drift_weeks)

    @property
    def night_owl(self) -> bool:
        """Whether the main preferred hour lies between 22:00 and 04:00 local."""
        centre = max(self.peaks, key=lambda p: p[1])[0]
        return centre >= 22 or centre < 4


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """One visit: its events' instants (aware, ascending); it lasts first to last."""

    events: tuple[datetime, ...]

    @property
    def start(self) -> datetime:
        return self.events[0]

    @property
    def end(self) -> datetime:
        return self.events[-1]


def _von_mises(delta_h: float, kappa: float) -> float:
    """Circular hour preference with mean 1 over the day, peaking at ``delta_h`` = 0.

    >>> round(_von_mises(0.0, 0.0), 6), _von_mises(0.0, 2.0) > 3 > 0.2 > _von_mises(12.0, 2.0)
    (1.0, True)
    """
    return math.exp(kappa * math.cos(2 * math.pi * delta_h / 24)) / _bessel_i0(kappa)


def _bessel_i0(x: float) -> float:
    """Modified Bessel function I0, the von Mises normaliser (series; x <= ~20).

    >>> round(_bessel_i0(1.0), 6)
    1.266066
    """
    term, total, k = 1.0, 1.0, 0
    while term > 1e-12 * total:
        k += 1
        term *= (x / 2) ** 2 / k**2
        total += term
    return total


def window_peaks(active_hours: Sequence[tuple[int, int]]) -> tuple[tuple[float, float], ...]:
    """Centres of the clean mode's local windows, weighted by their length (wrap-aware).

    >>> window_peaks(((22, 2),))
    ((0.0, 1.0),)
    >>> window_peaks(((12, 14), (19, 22)))
    ((13.0, 0.4), (20.5, 0.6))
    """
    lengths = [(end - start) % 24 or 24 for start, end in active_hours]
    total = sum(lengths)
    return tuple(
        (((start + length / 2) % 24), length / total)
        for (start, _), length in zip(active_hours, lengths, strict=True)
    )


def draw_activity(customer: Customer, seed: int) -> Activity:
    """The customer's habits; the same customer and seed always draw the same ones."""
    rng = random.Random(f"activity:{seed}:{customer.customer_id}")
    drifting = rng.random() < _DRIFTING
    return Activity(
        customer_id=customer.customer_id,
        timezone=customer.timezone,
        sessions_per_week=_sessions_per_week(rng, customer),
        peaks=window_peaks(customer.active_hours),
        kappa=rng.uniform(*_KAPPA),
        weekend_factor=rng.lognormvariate(math.log(1.3), 0.4),
        weekend_shift_h=rng.uniform(0.0, 2.0),
        drift_h=rng.uniform(1.0, 4.0) if drifting else 0.0,
        drift_weeks=rng.uniform(6.0, 26.0),
        return_share=rng.betavariate(3, 5),
        spell_shape=rng.uniform(0.4, 1.2),
        rest_h=rng.lognormvariate(math.log(_MEDIAN_REST_H), 0.5),
    )


def _sessions_per_week(rng: random.Random, customer: Customer) -> float:
    """Fresh sessions a week: lognormal around the occasional or the regular median."""
    median = _MEDIAN_PER_WEEK[0] if rng.random() < _OCCASIONAL else _MEDIAN_PER_WEEK[1]
    return min(_MOST_PER_WEEK, rng.lognormvariate(math.log(median), 1.0) * customer.activity)


def draw_sessions(
    activity: Activity, start: datetime, end: datetime, seed: int
) -> tuple[ActiveSession, ...]:
    """Sessions starting in ``[start, end)`` (aware), ascending and never overlapping.

    Fresh sessions are a Poisson process thinned by ``hour_weight`` and scaled by a
    gamma-distributed interest per week; each session may be followed by a return
    after a lognormal gap (median 12 min). The result is the customer's truth.
    """
    _require_aware(start, end)
    rng = random.Random(f"sessions:{seed}:{activity.customer_id}:{start.isoformat()}")
    peak = (_FLOOR + (1 - _FLOOR) * math.exp(activity.kappa) / _bessel_i0(activity.kappa)) * max(
        1.0, activity.weekend_factor
    )
    per_hour = activity.sessions_per_week / (7 * 24)
    out: list[ActiveSession] = []
    cursor = start
    while cursor < end:
        week_end = EPOCH + _WEEK * (math.floor((cursor - EPOCH) / _WEEK) + 1)
        bound = per_hour * peak * _weekly_interest(activity, seed, cursor)
        if bound <= 0:
            cursor = week_end
            continue
        wait_h = rng.expovariate(bound)
        if wait_h >= (week_end - cursor) / timedelta(hours=1):
            cursor = week_end
            continue
        candidate = cursor + timedelta(hours=wait_h)
        cursor = candidate
        if candidate >= end or rng.random() * peak >= activity.hour_weight(candidate) * rested(
            activity, candidate - out[-1].end if out else None
        ):
            continue
        session = _burst(rng, candidate)
        out.append(session)
        while rng.random() < activity.return_share:
            back = session.end + timedelta(minutes=rng.lognormvariate(math.log(12), 0.7))
            if back >= end:
                break
            session = _burst(rng, back)
            out.append(session)
        cursor = session.end
    return tuple(out)


def rested(activity: Activity, since: timedelta | None) -> float:
    """How much of the wish to visit is back ``since`` the last visit ended (1 without
    one): real shoppers seldom come back an hour after a session ended (issue 17's
    log: 11 % active in the half hour after, 72 % within 12 hours).

    >>> a = Activity("c", "UTC", 1, ((20.0, 1.0),), 2, 1, 0, 0, 1, 0.3, 1, rest_h=2.0)
    >>> round(rested(a, timedelta(hours=2)), 3), rested(a, None)
    (0.632, 1.0)
    """
    if since is None or activity.rest_h <= 0:
        return 1.0
    return 1.0 - math.exp(-(since / timedelta(hours=1)) / activity.rest_h)


def session_rate(activity: Activity, when: datetime, since: timedelta | None, seed: int) -> float:
    """How likely a fresh session starts at ``when`` (relative; ``since`` the last visit
    ended): what a perfect forecaster of this customer could know, short of the draws
    themselves. The timing bench plans with it for its "process oracle", the ceiling of
    any send-time model on this mode."""
    weight = activity.hour_weight(when) * rested(activity, since)
    return weight * _weekly_interest(activity, seed, when)


def _weekly_interest(activity: Activity, seed: int, when: datetime) -> float:
    """Gamma(shape, 1/shape) interest of ``when``'s week: mean 1, spells and lulls;
    seeded by the week so overlapping windows agree."""
    week = math.floor((when - EPOCH) / _WEEK)
    rng = random.Random(f"spell:{seed}:{activity.customer_id}:{week}")
    return rng.gammavariate(activity.spell_shape, 1 / activity.spell_shape)


def _burst(rng: random.Random, start: datetime) -> ActiveSession:
    """A session's events: 1 + lognormal count (median ~4), lognormal spacing (median 40 s)."""
    count = 1 + int(rng.lognormvariate(math.log(4), 0.9))
    events = [start]
    for _ in range(count - 1):
        events.append(events[-1] + timedelta(seconds=rng.lognormvariate(math.log(40), 1.0)))
    return ActiveSession(tuple(events))


def draw_truth(
    customers: Sequence[Customer], seed: int, start: datetime, end: datetime
) -> dict[str, tuple[ActiveSession, ...]]:
    """Every customer's sessions in ``[start, end)``, by customer id."""
    return {
        c.customer_id: draw_sessions(draw_activity(c, seed), start, end, seed) for c in customers
    }


def visits(
    truth: Sequence[ActiveSession], gap: timedelta = timedelta(milliseconds=SESSION_GAP_MS)
) -> tuple[ActiveSession, ...]:
    """The bursts of ``truth`` joined into sessions as analytics (and the profile's
    presence) define them: a pause of ``gap`` or more ends one. A return 12 minutes
    after a burst belongs to the same session.

    >>> t0 = datetime(2026, 3, 2, 18, tzinfo=UTC)
    >>> burst = lambda m: ActiveSession((t0 + timedelta(minutes=m), t0 + timedelta(minutes=m + 2)))
    >>> [(v.start.minute, v.end.minute) for v in visits([burst(0), burst(14), burst(50)])]
    [(0, 16), (50, 52)]
    """
    out: list[ActiveSession] = []
    for burst in truth:
        if out and burst.start - out[-1].end < gap:
            out[-1] = ActiveSession(out[-1].events + burst.events)
        else:
            out.append(burst)
    return tuple(out)


def active_within(
    truth: Sequence[ActiveSession], when: datetime, after: timedelta = timedelta(minutes=30)
) -> bool:
    """Whether a send at ``when`` hits: the customer is in a session at some instant of
    ``[when, when + after]`` (``truth`` ascending and non-overlapping, as drawn).

    >>> t0 = datetime(2026, 3, 2, 18, tzinfo=UTC)
    >>> visit = ActiveSession((t0, t0 + timedelta(minutes=5)))
    >>> [active_within([visit], t0 + timedelta(minutes=m)) for m in (-40, -20, 3, 6)]
    [False, True, True, False]
    """
    _require_aware(when)
    index = bisect_left(truth, when, key=lambda s: s.end)
    return index < len(truth) and truth[index].start <= when + after


def _require_aware(*instants: datetime) -> None:
    if any(t.tzinfo is None or t.utcoffset() is None for t in instants):
        raise ValueError("activity instants must be timezone-aware")
