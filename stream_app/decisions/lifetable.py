"""The life table of a customer's pauses: how likely the next activity comes so many
minutes after the last one (``decisions.moments`` weighs it for every moment it plans).

The pauses are counted by bucket (``profiles.presence.GAP_EDGES_MIN``); within a bucket
the hazard is constant. Pure, minutes as floats.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

from stream_app.profiles.presence import GAP_EDGES_MIN, SESSION_GAP_MS

#: Lower and upper edges (minutes) of the pause buckets (the last one is open).
LOWER = (0, *GAP_EDGES_MIN)
UPPER = GAP_EDGES_MIN
#: Pieces at or past this many minutes are a new visit, not the session going on.
SESSION_MIN = SESSION_GAP_MS // 60_000


def exposure(
    hazards: Sequence[float],
    start: float,
    end: float,
    scale: float,
    integrals: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
) -> float:
    """The integral of the piecewise-constant hazard from ``start`` to ``end`` minutes
    after the last activity; pieces past the session gap (a new visit, not the session
    going on) are multiplied by ``scale``. ``integrals``: ``cumulative(hazards)``, when
    the caller asks many times.

    >>> hz = (0.1,) * 4 + (0.01,) * 3 + (0.001,)
    >>> round(exposure(hz, 235, 245, 2.0), 6)  # 5 min x 0.01 x 2 + 5 min x 0.001 x 2
    0.11
    >>> round(exposure(hz, 0, 45, 1.0), 6)  # 30 min x 0.1 + 15 min x 0.01
    3.15
    """
    inside, outside = integrals or cumulative(hazards)
    low_in, low_out = _integral(hazards, inside, outside, start)
    high_in, high_out = _integral(hazards, inside, outside, end)
    return high_in - low_in + scale * (high_out - low_out)


def cumulative(hazards: Sequence[float]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The integral of the hazard from 0 to each bucket's lower edge, split into the part
    inside the session gap and the part past it (which ``exposure`` scales)."""
    inside, outside = [0.0], [0.0]
    for lower, upper, rate in zip(LOWER, UPPER, hazards, strict=False):
        past = lower >= SESSION_MIN
        inside.append(inside[-1] + (0.0 if past else rate * (upper - lower)))
        outside.append(outside[-1] + (rate * (upper - lower) if past else 0.0))
    return tuple(inside), tuple(outside)


def _integral(
    hazards: Sequence[float], inside: Sequence[float], outside: Sequence[float], x: float
) -> tuple[float, float]:
    """Both parts of the integral from 0 to ``x`` minutes (``x >= 0``)."""
    bucket = bisect_right(LOWER, x) - 1
    lower = LOWER[bucket]
    part = hazards[bucket] * (x - lower)
    if lower >= SESSION_MIN:
        return inside[bucket], outside[bucket] + part
    return inside[bucket] + part, outside[bucket]


def hazards(pauses: Sequence[float], long_rate: float) -> tuple[float, ...]:
    """Per-minute hazards of the next activity by pause bucket, from pause counts (a life
    table: of the pauses that reach a bucket, the share that ends in it, as the hazard
    constant over the bucket that ends that share), and ``long_rate`` (per minute) past
    the last edge.

    >>> [round(h, 4) for h in hazards((2, 0, 0, 0, 0, 0, 0, 2), 0.001)][:2]  # ln 2 / 2 min
    [0.3466, 0.0]
    """
    alive = math.fsum(pauses)
    out: list[float] = []
    for lower, upper, ended in zip(LOWER, UPPER, pauses, strict=False):
        if ended <= 0 or alive <= 0:
            out.append(0.0)
        elif ended < alive:  # exact for a hazard constant within the bucket
            out.append(-math.log1p(-ended / alive) / (upper - lower))
        else:  # all end in it: the actuarial estimate
            out.append(2 * ended / alive / (upper - lower))
        alive -= ended
    out.append(long_rate)
    return tuple(out)
