"""The funnel and cohort reports as text and CSV (pure; the counters' rows from
``decisions.funnel.rows``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from stream_app.decisions.funnel import ALL, STAGES, CohortRow


def total(rows: Sequence[CohortRow], periods: int) -> CohortRow:
    """Every cohort together (the funnel over the whole period reported).

    >>> a = CohortRow("w1", ALL, dict.fromkeys(STAGES, 1), [1])
    >>> total([a, a], 2).stages["revenue"], total([], 3).retained
    (2, [0, 0])
    """
    stages = {stage: sum(row.stages[stage] for row in rows) for stage in STAGES}
    retained = [sum(row.retained[k] for row in rows) for k in range(periods - 1)]
    return CohortRow(ALL, ALL, stages, retained)


def _share(n: int, of: int) -> str:
    return f"{n / of:.1%}" if of else "-"


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def render_funnel(rows: Sequence[CohortRow]) -> str:
    """One line per cohort (and source): customers per stage, and the share of the
    cohort's acquired customers that reached it.

    >>> row = CohortRow("2026-W02", ALL, {"acquisition": 4, "activation": 2, "retention": 1,
    ...                                   "revenue": 1, "referral": 0}, [1])
    >>> print(render_funnel([row]))
    cohort    source  acquisition  activation  retention  revenue    referral
    2026-W02  all     4            2 (50.0%)   1 (25.0%)  1 (25.0%)  0 (0.0%)
    """
    lines: list[tuple[str, ...]] = [("cohort", "source", *STAGES)]
    for row in rows:
        acquired = row.stages["acquisition"]
        cells = [str(acquired)] + [
            f"{row.stages[s]} ({_share(row.stages[s], acquired)})" for s in STAGES[1:]
        ]
        lines.append((row.cohort, row.source, *cells))
    return _table(lines)


def render_cohorts(rows: Sequence[CohortRow], periods: int) -> str:
    """The retention triangle: per cohort, the share active again k periods later.

    >>> row = CohortRow("2026-W02", ALL, dict.fromkeys(STAGES, 4), [2, 1])
    >>> print(render_cohorts([row], 3))
    cohort    source  customers  k=1    k=2
    2026-W02  all     4          50.0%  25.0%
    """
    lines: list[tuple[str, ...]] = [
        ("cohort", "source", "customers", *(f"k={k}" for k in range(1, periods)))
    ]
    for row in rows:
        acquired = row.stages["acquisition"]
        shares = (_share(n, acquired) for n in row.retained)
        lines.append((row.cohort, row.source, str(acquired), *shares))
    return _table(lines)


def to_csv(rows: Sequence[CohortRow], periods: int) -> str:
    """Counts, one line per cohort (and source): the stages, then ``r1`` .. ``r<N-1>``.

    >>> print(to_csv([CohortRow("2026-01", ALL, dict.fromkeys(STAGES, 3), [2])], 2).strip())
    cohort,source,acquisition,activation,retention,revenue,referral,r1
    2026-01,all,3,3,3,3,3,2
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["cohort", "source", *STAGES, *(f"r{k}" for k in range(1, periods))])
    for row in rows:
        writer.writerow([row.cohort, row.source, *row.stages.values(), *row.retained])
    return out.getvalue()
