"""One batch in progress through the pass (``streaming.onepass``), and what it counted."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from stream_app.counts import Conversion, Counts, DecisionCount, add
from stream_app.decisions.triggers import Hit
from stream_app.storage.decisions import PendingDecision
from stream_app.streaming.batch import Batch
from stream_app.streaming.effects import Passed


@dataclass(slots=True)
class Round:
    """One batch in progress: results per customer, and what belongs to the batch."""

    batch: Batch
    now: datetime
    #: History (records marked as backfill): state only, in event time, no messages.
    backfill: bool = False
    passed: dict[str, Passed] = field(default_factory=dict)
    #: Catalog hits by viewer, found once (the catalog is updated once).
    catalog_hits: dict[str, list[Hit]] = field(default_factory=lambda: defaultdict(list))
    counters: Counts = field(default_factory=Counter)
    #: Every count of the batch as last written (``counters_of``), for the metrics.
    written: Counts = field(default_factory=Counter)
    round_trips: int = 0
    redis_s: float = 0.0
    #: Redis Cluster slots this batch's commit already wrote (``Committer.commit``).
    committed_slots: set[int] = field(default_factory=set)


def counters_of(work: Round) -> Counts:
    """Everything a batch counted: the batch's own counts and each customer's."""
    total = Counter(work.counters)
    for passed in work.passed.values():
        total.update(passed.counters)
        change = passed.evaluation.change if passed.evaluation else None
        if change is not None:
            add(total, "segment_entries", len(change.entered))
            add(total, "segment_exits", len(change.exited))
        for window in passed.conversions:
            total[Conversion(window.campaign_id, window.arm)] += 1
        for sent in passed.to_send(work.now):
            total[sent_count(sent)] += 1
    return total


def sent_count(item: PendingDecision) -> DecisionCount:
    """What sending (or holding out) a decision counts."""
    d = item.decision
    return (
        DecisionCount(d.campaign_id, "holdout")
        if d.holdout
        else DecisionCount(d.campaign_id, "emitted", d.channel)
    )
