"""Quantiles from a Prometheus histogram's cumulative buckets, or from raw values. Pure.

The histogram estimate is PromQL's ``histogram_quantile`` (linear interpolation
inside the bucket holding the rank, the first bucket starting at 0, a rank in the
``+Inf`` bucket answered with the highest finite bound), so the live dashboard
and the Grafana one agree on what "p95" means.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """The ``q``-quantile (0 <= q <= 1) of observations counted in cumulative
    ``(upper bound, count)`` buckets; None when nothing was observed.

    >>> buckets = [(0.1, 50), (0.5, 90), (1.0, 100), (math.inf, 100)]
    >>> histogram_quantile(0.5, buckets), histogram_quantile(0.95, buckets)
    (0.1, 0.75)
    >>> round(histogram_quantile(0.99, buckets), 6)
    0.95

    Inside the first bucket the lower bound is 0; a rank beyond the last finite bound
    is answered with that bound (the histogram knows nothing above it):

    >>> histogram_quantile(0.25, [(2.0, 4), (math.inf, 4)])
    0.5
    >>> histogram_quantile(0.99, [(1.0, 1), (math.inf, 10)])
    1.0
    >>> histogram_quantile(0.5, [(1.0, 0), (math.inf, 0)]) is None
    True

    Buckets may come in any order; counts that decrease (a scrape racing an
    observation, sums of several workers) are treated as flat, as PromQL does.
    """
    if not 0 <= q <= 1:
        raise ValueError(f"q must be within [0, 1], got {q}")
    ordered = sorted(buckets)
    cumulative: list[tuple[float, float]] = []
    running = 0.0
    for bound, count in ordered:
        running = max(running, count)
        cumulative.append((bound, running))
    if not cumulative or running <= 0:
        return None
    rank = q * running
    lower, below = 0.0, 0.0
    for i, (bound, count) in enumerate(cumulative):
        if count >= rank and count > below:
            if math.isinf(bound):
                return lower if i > 0 else None
            if i == 0 and bound <= 0:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0 <= q <= 100) of raw ``values``, interpolating linearly
    between the closest ranks (numpy's default, ``statistics.quantiles``' "inclusive"):
    for timings kept one by one (the benches), where no histogram stands between.

    >>> percentile([1, 2, 3, 4], 50), percentile([4, 3, 2, 1], 90)
    (2.5, 3.7)
    >>> percentile([5], 99), percentile([3, 1, 2], 0), percentile([3, 1, 2], 100)
    (5.0, 1.0, 3.0)
    """
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within [0, 100], got {q}")
    data = sorted(values)
    if not data:
        raise ValueError("no values")
    if len(data) == 1:
        return float(data[0])
    # statistics.quantiles' arithmetic, in hundredths of a rank, so figures match it exactly
    hundredths = q * (len(data) - 1)
    below = min(int(hundredths // 100), len(data) - 2)
    delta = hundredths - below * 100
    return float((data[below] * (100 - delta) + data[below + 1] * delta) / 100)
