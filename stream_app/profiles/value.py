"""What a customer is worth and where they are in their life cycle (docs/profile.md,
"Derived"): RFM scores, tier, price band and life-cycle stage from the thresholds
of ``ValueRules``. Pure functions of the figures ``ProfileView`` reads."""

from __future__ import annotations


def score_recency(days: float | None, bounds: tuple[float, ...]) -> int:
    """5 for the most recent bound met, down to 1 (or never).

    >>> score_recency(3, (7, 30, 90, 180)), score_recency(None, (7, 30, 90, 180))
    (5, 1)
    """
    if days is None:
        return 1
    for score, bound in zip((5, 4, 3, 2), bounds, strict=True):
        if days <= bound:
            return score
    return 1


def score_amount(amount: float, bounds: tuple[float, ...]) -> int:
    """5 for the highest bound reached (frequency, monetary), down to 1."""
    for score, bound in zip((5, 4, 3, 2), bounds, strict=True):
        if amount >= bound:
            return score
    return 1


def tier_of(r: int, f: int, m: int, is_new: bool) -> str:
    if r >= 4 and f >= 4 and m >= 4:
        return "vip"
    if f >= 3 and r >= 3:
        return "loyal"
    return "new" if is_new else "regular"


def price_band_of(avg: float, bounds: tuple[float, float]) -> str:
    return "budget" if avg < bounds[0] else "mid" if avg < bounds[1] else "premium"


def lifecycle_stage(
    is_new: bool, elapsed_days: float | None, interval: float, factors: tuple[float, float, float]
) -> str:
    """new → active → at_risk → lapsed → churned, against the customer's own rhythm.

    >>> lifecycle_stage(False, 40, 30, (1.5, 3, 6)), lifecycle_stage(False, 50, 30, (1.5, 3, 6))
    ('active', 'at_risk')
    """
    if is_new:
        return "new"
    if elapsed_days is None:
        return "churned"
    active, at_risk, lapsed = factors
    if elapsed_days <= active * interval:
        return "active"
    if elapsed_days <= at_risk * interval:
        return "at_risk"
    if elapsed_days <= lapsed * interval:
        return "lapsed"
    return "churned"
