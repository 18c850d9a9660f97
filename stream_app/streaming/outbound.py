"""What a pass publishes (``streaming.onepass``, stage 4): dead letters, late events,
segment changes and decisions due now as records, and a log of dead letters that stays readable
under a burst."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from stream_app.decisions.evaluation import MembershipChange
from stream_app.events.deadletter import DeadLetter
from stream_app.events.encode import encode
from stream_app.events.segment import SegmentChange
from stream_app.events.topics import TopicNames
from stream_app.streaming.effects import Passed
from stream_app.streaming.publisher import OutRecord
from stream_app.streaming.rounds import Round

log = logging.getLogger(__name__)

#: Dead letters are logged at most this often (as one summary line).
DEAD_LETTER_LOG_EVERY = timedelta(seconds=10)

ChangeKind = Literal["segment.entered", "segment.exited"]


def out_records(
    work: Round, passed: Sequence[Passed], topics: TopicNames, first: bool
) -> tuple[list[OutRecord], list[DeadLetter]]:
    """The records to publish for ``passed`` (and, on the first attempt, the batch's own
    dead letters); returns them with the dead letters among them."""
    now = work.now
    dead = [*(work.batch.dead if first else ()), *(d for p in passed for d in p.dead)]
    records = [OutRecord(topics.deadletter, None, encode(d)) for d in dead]
    for p in passed:
        records += [OutRecord(topics.late, p.customer_id.encode(), encode(e)) for e in p.late]
        change = p.evaluation.change if p.evaluation else None
        if change is not None:
            records += change_records(change, topics.segments, now)
        for sent in p.to_send(now):
            d = sent.decision
            topic = topics.audit if d.holdout else topics.decisions
            records.append(OutRecord(topic, d.customer_id.encode(), encode(d)))
    return records, dead


def change_records(change: MembershipChange, topic: str, now: datetime) -> list[OutRecord]:
    """A membership change as ``segment.entered`` / ``segment.exited`` records."""
    key = change.customer_id.encode()
    kinds: tuple[tuple[ChangeKind, frozenset[str]], ...] = (
        ("segment.entered", change.entered),
        ("segment.exited", change.exited),
    )
    return [
        OutRecord(topic, key, encode(SegmentChange.of(kind, change.customer_id, name, now)))
        for kind, names in kinds
        for name in sorted(names)
    ]


class DeadLetterLog:
    """One log line per dead-letter burst: the first letter after a quiet spell, then
    at most one summary per ``DEAD_LETTER_LOG_EVERY``, never one line per record."""

    def __init__(self) -> None:
        self._unlogged: Counter[str] = Counter()
        self._logged_at: datetime | None = None

    def note(self, dead: Iterable[DeadLetter], now: datetime) -> None:
        self._unlogged.update(d.reason.value for d in dead)
        last = self._logged_at
        if last is not None and now - last < DEAD_LETTER_LOG_EVERY:
            return
        total = sum(self._unlogged.values())
        reasons = ", ".join(f"{reason}={n}" for reason, n in self._unlogged.items())
        log.warning(
            "dead-lettered %d record(s): %s",
            total,
            reasons,
            extra={"event": "dead_letters", "count": total},
        )
        self._unlogged = Counter()
        self._logged_at = now
