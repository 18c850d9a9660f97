"""The chance that a message sent at a given moment is read: now, soon, or in the
customer's usual hours.

A message is *read* when the customer is active within ``READ_WITHIN`` after it
lands. Two ways lead there (issue 17), and the planner weighs both for every
moment it considers:

* **coming back**: the customer's own pauses (``profiles.presence``), pulled toward
  a prior for short histories, say how likely the next activity falls in the 30
  minutes after the moment, given that none came since the last one. Right after
  an activity that is high (the session goes on); it fades over minutes to hours;
* **a new visit**: visits the pauses do not cover (4 h and more apart) come at the
  customer's own rate (a gamma-Poisson estimate: their visits over their time with
  us, pulled toward the prior rate), spread over the day by their hour-of-day
  shares.

``chance = 1 - (1 - coming back) * (1 - new visit)``. Pure, time as epoch ms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from stream_app.clock import to_ms
from stream_app.decisions.lifetable import LOWER, SESSION_MIN, UPPER, cumulative, exposure, hazards
from stream_app.decisions.text import span
from stream_app.decisions.timing import HOURS_PER_DAY, SendPlan, smoothed_shares, usual_hours
from stream_app.profiles.presence import (
    GAP_EDGES_MIN,
    SESSION_GAP_MS,
    SESSIONS_HALF_LIFE_MS,
    Presence,
)

#: A message counts as read when the customer is active within this after it lands.
READ_WITHIN = timedelta(minutes=30)
_READ_MIN = READ_WITHIN / timedelta(minutes=1)
_HOUR_MS = 3_600_000
_HOUR = timedelta(hours=1)
#: Activity this recent is worth naming in an explanation.
_RECENT_MS = 4 * _HOUR_MS
_WEEK_MIN = 7 * 24 * 60
#: The first pause bucket that starts a new session.
_FIRST_SESSION_BUCKET = GAP_EDGES_MIN.index(SESSION_GAP_MS // 60_000) + 1


@dataclass(frozen=True, slots=True)
class PresencePriors:
    """What a customer without history is assumed to do: these defaults until everyone's
    is learned (``learned_priors``; settings ``decisions.presence_*``)."""

    #: Shares of pauses per bucket of ``profiles.presence.GAP_EDGES_MIN`` (and 4 h+):
    #: most inside a session, a tenth between visits on different occasions.
    pauses: tuple[float, ...] = (0.55, 0.12, 0.08, 0.04, 0.04, 0.04, 0.03, 0.10)
    #: How many pauses the prior is worth.
    pause_strength: float = 20.0
    #: Sessions a week.
    visits_per_week: float = 3.0
    #: How many weeks of history the session rate prior is worth.
    visit_strength_weeks: float = 0.25


@dataclass(frozen=True, slots=True)
class Outlook:
    """A customer's activity as the planner sees it at ``now_ms``."""

    now_ms: int
    #: Latest activity and start of its session (epoch ms), None without any.
    last_ms: int | None
    session_start_ms: int | None
    #: Hazard of the next activity (per minute) in each pause bucket, by time since the
    #: last one: the customer's life table (``hazards``).
    hazards: tuple[float, ...]
    #: Sessions a minute, over all the customer's time with us.
    steady_rate: float
    #: 24 local hour-of-day activity shares (sum 1).
    hourly: tuple[float, ...]
    #: The hazards' integrals up to each bucket (``cumulative``): one lookup per moment.
    integrals: tuple[tuple[float, ...], tuple[float, ...]] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "integrals", cumulative(self.hazards))

    def chance(self, at_ms: int, local_hour: int) -> float:
        """The chance a message landing at ``at_ms`` (local hour ``local_hour``) is read.

        If nothing happens until then, the life table says how likely the next activity
        falls in the ``READ_WITHIN`` after it (``first``); if the customer comes back
        before it, their steady rate at that hour does (``steady``):
        ``S * first + (1 - S) * steady``, ``S`` the chance nothing happens until then.
        Pauses of 4 h or more end, and steady visits come, at the customer's hours
        (the rate times 24 x the hour's share: mean 1); a session goes on, and a return
        within hours comes, whatever the hour.

        >>> flat = (1 / 24,) * 24
        >>> idle = Outlook(0, None, None, (0.0,) * 7 + (1 / 1440,), 1 / 1440, flat)
        >>> round(idle.chance(0, 12), 4)  # a visit a day, read within 30 min
        0.0206
        >>> here = Outlook(60_000, 0, 0, (0.5,) + (0.0,) * 6 + (1 / 1440,), 1 / 1440, flat)
        >>> round(here.chance(60_000, 12), 2)  # active a minute ago: the session goes on
        0.39
        """
        scale = HOURS_PER_DAY * self.hourly[local_hour]
        steady = 1.0 - math.exp(-self.steady_rate * scale * _READ_MIN)
        if self.last_ms is None:
            return steady
        since = (max(self.now_ms, self.last_ms) - self.last_ms) / 60_000
        start = max(since, (at_ms - self.last_ms) / 60_000)
        table, integrals = self.hazards, self.integrals
        quiet = math.exp(-exposure(table, since, start, scale, integrals))
        first = 1.0 - math.exp(-exposure(table, start, start + _READ_MIN, scale, integrals))
        later = quiet * first + (1.0 - quiet) * steady
        return 1.0 - (1.0 - self.still_here(at_ms)) * (1.0 - later)

    def still_here(self, at_ms: int) -> float:
        """The chance the session open now still goes on at ``at_ms``: one that has
        lasted ``L`` goes on past ``L + x`` with chance ``L / (L + x)`` (heavy-tailed
        lengths: the longer a shopper has stayed, the longer they stay), fading as the
        pause so far nears the session gap (times ``1 - (pause / gap)^2``); 0 when no
        session is open.

        >>> here = Outlook(0, 0, -20 * 60_000, (0.0,) * 8, 0.0, (1 / 24,) * 24)
        >>> here.still_here(0), here.still_here(20 * 60_000)  # 20 min so far: 1, then 1/2
        (1.0, 0.5)
        >>> paused = Outlook(15 * 60_000, 0, -20 * 60_000, (0.0,) * 8, 0.0, (1 / 24,) * 24)
        >>> round(paused.still_here(15 * 60_000), 3)  # 15 min idle: 20/35, times 3/4
        0.429
        """
        last, start = self.last_ms, self.session_start_ms
        if last is None or start is None or self.now_ms - last >= SESSION_GAP_MS:
            return 0.0
        lasted, idle = last - start, self.now_ms - last
        if lasted <= 0:
            return 0.0
        return (
            lasted / (lasted + max(at_ms, self.now_ms) - last) * (1 - (idle / SESSION_GAP_MS) ** 2)
        )


def long_rate(
    presence: Presence, first_ms: int | None, now_ms: int, priors: PresencePriors
) -> float:
    """Per minute, how soon a pause of 4 h or more ends: such pauses over the time spent
    in them (the customer's time with us less what the shorter pauses took), pulled
    toward the prior rate (gamma-Poisson).

    >>> priors = PresencePriors((0.0,) * 7 + (1.0,), 1.0, 7.0, 1.0)
    >>> none = Presence(None, None, (0,) * 8)
    >>> round(long_rate(none, None, 0, priors) * 10080, 3)  # the prior: 7 a week
    7.0
    >>> busy = Presence(0, 0, (0,) * 7 + (14,))  # 14 in the 4.7 days such pauses took
    >>> round(long_rate(busy, -10080 * 60_000, 0, priors) * 10080, 3)
    12.6
    """
    strength = priors.visit_strength_weeks * _WEEK_MIN
    prior_ended = priors.visits_per_week * priors.visit_strength_weeks
    if presence.last_ms is None or first_ms is None:
        return prior_ended / strength
    spent = max(now_ms - first_ms, 0) / 60_000
    for lower, upper, ended in zip(LOWER, UPPER, presence.gaps, strict=False):
        spent -= ended * (lower + upper) / 2
    spent -= presence.gaps[-1] * UPPER[-1]
    return (presence.gaps[-1] + prior_ended) / (max(spent, 0.0) + strength)


def steady_rate(
    presence: Presence, first_ms: int | None, now_ms: int, priors: PresencePriors
) -> float:
    """Sessions a minute these days: the customer's recent sessions (decayed, half-life
    two days: interest comes in spells) over the time they cover, pulled toward the
    prior (gamma-Poisson: the prior weighs ``visit_strength_weeks`` of history).

    >>> priors = PresencePriors(visits_per_week=7.0, visit_strength_weeks=1.0)
    >>> round(steady_rate(Presence(None, None, (0,) * 8), None, 0, priors) * 10080, 3)
    7.0
    >>> busy = Presence(0, 0, (0,) * 8, recent_sessions=8 / math.log(2))  # 4 a day these days
    >>> own = PresencePriors(visits_per_week=7.0, visit_strength_weeks=0.0)
    >>> round(steady_rate(busy, -100 * 86_400_000, 0, own) * 10080, 1)  # 4 a day: 28 a week
    28.0
    >>> round(steady_rate(busy, -100 * 86_400_000, 0, priors) * 10080, 1)  # 2.9 days vs a week
    13.1
    """
    strength = priors.visit_strength_weeks * _WEEK_MIN
    prior_sessions = priors.visits_per_week * priors.visit_strength_weeks
    if presence.last_ms is None or first_ms is None:
        return prior_sessions / strength
    half_life = SESSIONS_HALF_LIFE_MS / 60_000
    since = max(now_ms - presence.last_ms, 0) / 60_000
    known = max(now_ms - first_ms, 0) / 60_000
    recent = presence.recent_sessions * math.exp2(-since / half_life)
    covered = half_life / math.log(2) * (1.0 - math.exp2(-known / half_life))
    return (recent + prior_sessions) / (covered + strength)


def outlook(
    presence: Presence,
    first_ms: int | None,
    now: datetime,
    hourly: Sequence[float],
    priors: PresencePriors,
) -> Outlook:
    """What the planner knows at ``now`` of a customer with ``presence`` (first seen at
    ``first_ms``) and smoothed hour-of-day shares ``hourly``: their pause counts pulled
    toward the prior's shares (``pause_strength`` pauses' worth) make the life table."""
    now_ms = to_ms(now)
    total = sum(presence.gaps) + priors.pause_strength
    counts = smoothed_shares(presence.gaps, priors.pauses, priors.pause_strength)
    table = hazards(
        [share * total for share in counts], long_rate(presence, first_ms, now_ms, priors)
    )
    steady = steady_rate(presence, first_ms, now_ms, priors)
    table = tuple(
        min(rate, steady) if lower >= SESSION_MIN else rate
        for lower, rate in zip(LOWER, table, strict=True)
    )
    return Outlook(
        now_ms, presence.last_ms, presence.session_start_ms, table, steady, tuple(hourly)
    )


def presence_sums(
    customers: Sequence[tuple[Presence, int | None]], now_ms: int
) -> tuple[float, ...]:
    """What customers add to the learned presence prior: per customer with pauses, their
    pause shares (summing to 1: each customer weighs one, whatever their volume), then
    their sessions a week in the last place.

    >>> week = 10080 * 60_000
    >>> presence_sums([(Presence(0, 0, (3, 0, 0, 0, 0, 0, 0, 1)), -week)], 0)
    (0.75, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25, 2.0)
    """
    sums = [0.0] * (len(GAP_EDGES_MIN) + 2)
    for presence, first_ms in customers:
        total = sum(presence.gaps)
        if total <= 0 or first_ms is None:
            continue
        for bucket, count in enumerate(presence.gaps):
            sums[bucket] += count / total
        weeks = max(now_ms - first_ms, 60_000) / 60_000 / _WEEK_MIN
        sums[-1] += (1 + sum(presence.gaps[_FIRST_SESSION_BUCKET:])) / weeks
    return tuple(sums)


def learned_priors(sums: Sequence[float], default: PresencePriors) -> PresencePriors:
    """The presence prior from ``presence_sums`` added up over many customers: their
    mean pause shares and mean sessions a week, ``default`` until anyone has pauses.

    >>> default = PresencePriors((1.0,) + (0.0,) * 7, 20.0, 2.0, 0.5)
    >>> learned_priors((0.75, 0, 0, 0, 0, 0, 0, 0.25, 2.0), default).visits_per_week
    2.0
    >>> learned_priors((0.0,) * 9, default) is default
    True
    """
    customers = math.fsum(sums[:-1])
    if customers <= 0:
        return default
    return PresencePriors(
        tuple(share / customers for share in sums[:-1]),
        default.pause_strength,
        sums[-1] / customers,
        default.visit_strength_weeks,
    )


@dataclass(frozen=True, slots=True)
class Decay:
    """How fast a campaign's message loses value after its trigger: half of it every
    ``half_life`` (a price drop within hours, a win-back within days)."""

    trigger_ms: int
    half_life: timedelta
    _half_life_ms: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_half_life_ms", self.half_life / timedelta(milliseconds=1))

    def kept(self, at_ms: int) -> float:
        """The share of the value left at ``at_ms``.

        >>> Decay(0, timedelta(hours=2)).kept(4 * _HOUR_MS)
        0.25
        """
        return math.exp2(-max(at_ms - self.trigger_ms, 0) / self._half_life_ms)


def describe_moment(plan: SendPlan, look: Outlook, decay: Decay, now: datetime) -> str:
    """Why this moment, for a decision's explanation: what the customer is doing, their
    usual hours, and what sending then is worth against sending at once.

    >>> from datetime import UTC
    >>> now = datetime(2026, 6, 1, 16, tzinfo=UTC)
    >>> evening = tuple(0.2 if 19 <= h < 22 else 0.4 / 21 for h in range(24))
    >>> ago = to_ms(now) - 40 * 60_000  # active until 40 min ago, a visit every 8 h
    >>> look = Outlook(to_ms(now), ago, ago - 600_000, (1 / 480,) * 8, 1 / 480, evening)
    >>> plan = SendPlan(now + 3 * _HOUR, 0.3, 0.1, 19, True, earliest_at=now, earliest_hour=16)
    >>> for part in describe_moment(plan, look, Decay(ago, timedelta(days=1)), now).split("; "):
    ...     print(part)
    last active 40 min ago
    usually active 19:00-22:00 local
    sending in 3 h 0 min at 19:00: chance read 0.26 then against 0.03 now, 90% of its value left
    """
    now_ms = to_ms(now)
    parts = [_presence_note(look, now_ms), usual_hours(look.hourly)]
    wait_s = (plan.send_at - now).total_seconds()
    at_ms = to_ms(plan.send_at)
    chance = look.chance(at_ms, plan.local_hour)
    if wait_s < 60:
        parts.append(f"sending now: chance read {chance:.2f}")
    else:
        first = plan.earliest_at or now
        before = look.chance(to_ms(first), plan.earliest_hour)
        when = f"{plan.local_hour:02d}:{plan.local_minute:02d}"
        wait = span(timedelta(minutes=round(wait_s / 60)))
        parts.append(
            f"sending in {wait} at {when}: chance read {chance:.2f} then against "
            f"{before:.2f} {'now' if first <= now else 'at first'}, "
            f"{decay.kept(at_ms):.0%} of its value left"
        )
    return "; ".join(part for part in parts if part)


def _presence_note(look: Outlook, now_ms: int) -> str:
    """ "in a session for 12 min (active 1 min ago)", "last active 40 min ago", or ""."""
    last, start = look.last_ms, look.session_start_ms
    if last is None or now_ms - last >= _RECENT_MS:
        return ""
    ago = _ago(now_ms - last)
    if start is not None and now_ms - last < SESSION_GAP_MS:
        lasted = now_ms - start
        length = (
            f" for {span(timedelta(minutes=round(lasted / 60_000)))}" if lasted >= 60_000 else ""
        )
        return f"in a session{length} (active {ago})"
    return f"last active {ago}"


def _ago(ms: int) -> str:
    """ "just now" under a minute, else "12 min ago"."""
    return "just now" if ms < 60_000 else f"{span(timedelta(minutes=round(ms / 60_000)))} ago"
