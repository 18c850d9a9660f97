"""Conversions: a goal reached inside a decision's open window converts it.

Treated and held-out decisions alike, since that is what lift compares. Goals are
``purchase`` (an order) and ``visit`` (any clickstream event).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Goal = Literal["purchase", "visit"]


@dataclass(frozen=True, slots=True)
class Window:
    """An open conversion window of a sent (or held-out) decision."""

    decision_id: str
    campaign_id: str
    arm: str
    stratum: str
    goal: str
    start_ms: int
    end_ms: int


def converted(windows: Sequence[Window], goals: Iterable[tuple[Goal, int]]) -> list[Window]:
    """The windows that one of ``goals`` (goal, event ms) falls in.

    >>> w = Window("d", "c", "treated", "vip", "purchase", 100, 200)
    >>> [x.decision_id for x in converted([w], [("visit", 150), ("purchase", 150)])]
    ['d']
    >>> converted([w], [("purchase", 250)])
    []
    """
    reached = list(goals)
    return [
        w
        for w in windows
        if any(goal == w.goal and w.start_ms <= ms <= w.end_ms for goal, ms in reached)
    ]
