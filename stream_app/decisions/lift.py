"""Incremental lift: conversion of treated customers against a random holdout.

The holdout is what the campaign is judged by: without it, a campaign that
targets people about to buy anyway looks brilliant. Two estimates are given:

* the pooled difference, with Newcombe's hybrid score interval, which keeps
  its coverage for small arms and rates near 0 or 1, where the textbook Wald
  interval does not;
* the Mantel-Haenszel (Cochran) stratified difference with Sato's variance,
  which compares like with like inside each stratum (segment, country...).
  When the two disagree in sign the pooled figure is confounded by how the
  arms are spread over strata (Simpson's paradox) and must not be reported
  alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Arm:
    """Customers in one arm and how many of them converted.

    >>> Arm(200, 30).rate
    0.15
    >>> Arm(0, 0).rate
    0.0
    """

    n: int
    conversions: int

    def __post_init__(self) -> None:
        if not 0 <= self.conversions <= self.n:
            raise ValueError(f"need 0 <= conversions <= n, got {self.conversions}/{self.n}")

    @property
    def rate(self) -> float:
        return self.conversions / self.n if self.n else 0.0

    def __add__(self, other: Arm) -> Arm:
        return Arm(self.n + other.n, self.conversions + other.conversions)


@dataclass(frozen=True, slots=True)
class Stratum:
    name: str
    treated: Arm
    holdout: Arm


def strata_of(cells: Mapping[tuple[str, str], Arm]) -> list[Stratum]:
    """Strata by name from the counts of each cell (arm ``treated`` or ``holdout``,
    stratum); a cell never counted is an empty arm.

    >>> strata_of({("treated", "vip"): Arm(3, 1), ("holdout", "new"): Arm(2, 0)})[0]
    Stratum(name='new', treated=Arm(n=0, conversions=0), holdout=Arm(n=2, conversions=0))
    """
    empty = Arm(0, 0)
    return [
        Stratum(name, cells.get(("treated", name), empty), cells.get(("holdout", name), empty))
        for name in sorted({stratum for _, stratum in cells})
    ]


@dataclass(frozen=True, slots=True)
class Estimate:
    """Absolute lift (treated - holdout rate) with its confidence interval."""

    treated_rate: float
    holdout_rate: float
    difference: float
    low: float
    high: float
    relative: float | None

    def as_dict(self, digits: int = 4) -> dict[str, float | None]:
        return {
            "treated_rate": round(self.treated_rate, digits),
            "holdout_rate": round(self.holdout_rate, digits),
            "difference": round(self.difference, digits),
            "low": round(self.low, digits),
            "high": round(self.high, digits),
            "relative": None if self.relative is None else round(self.relative, digits),
        }


def _estimate(treated_rate: float, holdout_rate: float, low: float, high: float) -> Estimate:
    diff = treated_rate - holdout_rate
    return Estimate(
        treated_rate=treated_rate,
        holdout_rate=holdout_rate,
        difference=diff,
        low=max(-1.0, low),
        high=min(1.0, high),
        relative=diff / holdout_rate if holdout_rate > 0 else None,
    )


def _check_z(z: float) -> None:
    if not (z > 0 and math.isfinite(z)):
        raise ValueError(f"z must be a positive number, got {z}")


def wilson(arm: Arm, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of one rate; an empty arm says nothing: (0, 1).

    >>> tuple(round(b, 4) for b in wilson(Arm(10, 0)))
    (0.0, 0.2775)
    """
    _check_z(z)
    if arm.n == 0:
        return 0.0, 1.0
    n, p, z2 = arm.n, arm.rate, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def difference(treated: Arm, holdout: Arm, z: float = 1.96) -> Estimate:
    """Lift with Newcombe's (1998) hybrid score interval, his method 10.

    Each bound combines the two Wilson intervals, so it stays inside [-1, 1]
    and is sensible for zero conversions or tiny arms. An empty arm is treated
    as knowing nothing about its rate (Wilson interval (0, 1)): the interval is
    then wide rather than missing. Newcombe's example (a):

    >>> e = difference(Arm(70, 56), Arm(80, 48))
    >>> round(e.difference, 4), round(e.low, 4), round(e.high, 4)
    (0.2, 0.0524, 0.3339)
    """
    t_low, t_high = wilson(treated, z)
    h_low, h_high = wilson(holdout, z)
    p_t, p_h = treated.rate, holdout.rate
    diff = p_t - p_h
    low = diff - math.hypot(p_t - t_low, h_high - p_h)
    high = diff + math.hypot(t_high - p_t, p_h - h_low)
    return _estimate(p_t, p_h, low, high)


def stratified(strata: Sequence[Stratum], z: float = 1.96) -> Estimate:
    """Mantel-Haenszel risk difference over strata, with Sato's (1989) variance.

    Weights are n_t * n_h / (n_t + n_h), so each stratum counts by how much it
    says about a difference, not by how many customers it holds. Sato's
    variance is valid both for many small strata and for a few large ones.
    The interval is the Wald one, so it collapses to a point when every
    stratum has 0 % (or 100 %) in both arms. The reported rates are the
    MH-weighted (standardised) rates, so that difference = treated - holdout.
    Strata with an empty arm say nothing about the difference and are skipped;
    if none is left, ``ValueError``.

    With one stratum and equal arms it reduces to the Wald interval,
    0.1 +/- 1.96 * sqrt(0.2 * 0.8 / 100 + 0.1 * 0.9 / 100):

    >>> e = stratified([Stratum("a", Arm(100, 20), Arm(100, 10))])
    >>> round(e.difference, 4), round(e.low, 4), round(e.high, 4)
    (0.1, 0.002, 0.198)
    """
    _check_z(z)
    used = [s for s in strata if s.treated.n and s.holdout.n]
    if not used:
        raise ValueError("no stratum has both a treated and a holdout customer")
    w_sum = t_sum = h_sum = p_sum = q_sum = 0.0
    for s in used:
        n1, y1, n0, y0 = s.treated.n, s.treated.conversions, s.holdout.n, s.holdout.conversions
        total = n1 + n0
        w = n1 * n0 / total
        w_sum += w
        t_sum += w * s.treated.rate
        h_sum += w * s.holdout.rate
        p_sum += (n1 * n1 * y0 - n0 * n0 * y1 + n1 * n0 * (n0 - n1) / 2) / (total * total)
        q_sum += (y1 * (n0 - y0) + y0 * (n1 - y1)) / (2 * total)
    treated_rate, holdout_rate = t_sum / w_sum, h_sum / w_sum
    diff = treated_rate - holdout_rate
    variance = max(0.0, (diff * p_sum + q_sum) / (w_sum * w_sum))
    half = z * math.sqrt(variance)
    return _estimate(treated_rate, holdout_rate, diff - half, diff + half)


@dataclass(frozen=True, slots=True)
class CampaignLift:
    """A campaign's lift, pooled and by stratum.

    ``treated`` and ``holdout`` are the pooled arms (the counts the report
    shows). ``stratified`` is None when no stratum has both arms.
    """

    campaign_id: str
    pooled: Estimate
    stratified: Estimate | None
    strata: tuple[tuple[str, Estimate], ...]
    simpson: bool
    treated: Arm
    holdout: Arm

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, rates and lifts rounded to 4 decimals."""
        return {
            "campaign_id": self.campaign_id,
            "treated": {"n": self.treated.n, "conversions": self.treated.conversions},
            "holdout": {"n": self.holdout.n, "conversions": self.holdout.conversions},
            "pooled": self.pooled.as_dict(),
            "stratified": None if self.stratified is None else self.stratified.as_dict(),
            "strata": [{"name": name} | est.as_dict() for name, est in self.strata],
            "simpson": self.simpson,
        }


def campaign_lift(campaign_id: str, strata: Sequence[Stratum]) -> CampaignLift:
    """Pooled lift over the summed arms, stratified lift, and the Simpson check.

    ``simpson`` is set when the pooled and stratified differences point in
    opposite directions and at least one of them is clear of zero (its interval
    excludes it): the pooled one is then an artefact of how treated and holdout
    customers spread over the strata. Two estimates that both straddle zero
    disagreeing in sign is noise, not a paradox.
    """
    treated = sum((s.treated for s in strata), Arm(0, 0))
    holdout = sum((s.holdout for s in strata), Arm(0, 0))
    pooled = difference(treated, holdout)
    usable = any(s.treated.n and s.holdout.n for s in strata)
    strat = stratified(strata) if usable else None
    return CampaignLift(
        campaign_id=campaign_id,
        pooled=pooled,
        stratified=strat,
        strata=tuple((s.name, difference(s.treated, s.holdout)) for s in strata),
        simpson=strat is not None
        and pooled.difference * strat.difference < 0
        and (_clear_of_zero(pooled) or _clear_of_zero(strat)),
        treated=treated,
        holdout=holdout,
    )


def _clear_of_zero(estimate: Estimate) -> bool:
    return estimate.low > 0 or estimate.high < 0


SIMPSON_MARK = "!"


def render(lifts: Sequence[CampaignLift]) -> str:
    """A plain-text table, one campaign a line; rates in %, lifts in points (pp).

    >>> lift = campaign_lift("cart", [Stratum("all", Arm(1000, 120), Arm(1000, 100))])
    >>> row = render([lift]).splitlines()[1]
    >>> row.split()[:7]
    ['cart', '1000', '120', '12.00%', '1000', '100', '10.00%']
    >>> row.split("  ")[-1].strip(), "+2.00 [-0.75, +4.76]  +20.0%" in row
    ('+2.00 [-0.74, +4.74]', True)
    """
    header = (
        "campaign",
        "treated n",
        "conv",
        "rate",
        "holdout n",
        "conv",
        "rate",
        "lift pp [95% CI]",
        "relative",
        "stratified pp [95% CI]",
        "",
    )
    rows = [header]
    for lift in lifts:
        rows.append(
            (
                lift.campaign_id,
                str(lift.treated.n),
                str(lift.treated.conversions),
                f"{lift.treated.rate:.2%}",
                str(lift.holdout.n),
                str(lift.holdout.conversions),
                f"{lift.holdout.rate:.2%}",
                _lift_cell(lift.pooled) if lift.holdout.n else "n/a (no holdout)",
                "n/a" if lift.pooled.relative is None else f"{lift.pooled.relative:+.1%}",
                "n/a" if lift.stratified is None else _lift_cell(lift.stratified),
                SIMPSON_MARK if lift.simpson else "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    if any(lift.simpson for lift in lifts):
        lines.append(
            f"{SIMPSON_MARK} pooled and stratified lifts disagree in sign (Simpson's paradox): "
            "the pooled figure is confounded, read the stratified one"
        )
    return "\n".join(lines)


def _lift_cell(estimate: Estimate) -> str:
    """Percentage points with the interval, e.g. ``+2.00 [-0.80, +4.79]``."""
    return (
        f"{estimate.difference * 100:+.2f} [{estimate.low * 100:+.2f}, {estimate.high * 100:+.2f}]"
    )
