"""What the engine counts, as typed keys: one count per thing that happened.

The engine's counters land in two places: the Redis stats hash (operators, the demo,
the dashboard) and Prometheus. Both read the same typed keys: the stats hash's field
names (``storage.statfields.stat_names``, including the totals it has always kept beside the
per-campaign fields) and the labels of a Prometheus series (``EngineMetrics.count``) come
from the key's fields, never from parsing ``"name:a:b"`` strings back.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal, NamedTuple

#: What became of a decision (a trigger occurrence answered by a campaign).
DecisionOutcome = Literal[
    "planned",
    "deferred",
    "holdout_planned",
    "skipped_audience",
    "suppressed",
    "cancelled",
    "emitted",
    "holdout",
]


class Plain(NamedTuple):
    """A counter without labels, e.g. ``events_applied``."""

    name: str


class Labelled(NamedTuple):
    """A counter of one kind of thing, e.g. dead letters by ``reason``: ``dead_letters:<label>``."""

    name: str
    label: str


class EventsIn(NamedTuple):
    """Events decoded from a stream, by type."""

    stream: str
    type: str


class DecisionCount(NamedTuple):
    """A decision's outcome for a campaign; ``detail`` is the reason (suppressed,
    cancelled) or the channel (emitted)."""

    campaign: str
    outcome: DecisionOutcome
    detail: str = ""


class Conversion(NamedTuple):
    """A goal reached inside a decision's window, by campaign and arm (treated, holdout)."""

    campaign: str
    arm: str


Key = Plain | Labelled | EventsIn | DecisionCount | Conversion
Counts = Counter[Key]


def add(counts: Counts, name: str, n: int) -> None:
    """Add ``n`` to the label-less counter ``name`` (no entry when ``n`` is 0).

    >>> counts: Counts = Counter()
    >>> add(counts, "events_applied", 3); add(counts, "events_duplicate", 0)
    >>> counts
    Counter({Plain(name='events_applied'): 3})
    """
    if n:
        counts[Plain(name)] += n
