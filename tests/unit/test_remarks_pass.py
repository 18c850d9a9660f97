"""Remarks in the pass: scored once before the fold (stars, text, or counted when neither
can say), and a rated review taught to the learner once, never for a duplicate."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson

from stream_app.counts import Counts, Plain
from stream_app.events.registry import EVENT_ADAPTERS, Stream
from stream_app.events.reviews import Remark
from stream_app.events.topics import TopicNames
from stream_app.model.polarity import remark_polarity
from stream_app.model.sentiment import SentimentModel, tokens
from stream_app.profiles.fold import FoldConfig
from stream_app.profiles.ops import Remarked
from stream_app.profiles.state import ProfileState
from stream_app.storage.customers import Loaded
from stream_app.storage.layout import event_key
from stream_app.streaming.batch import BatchConfig, decode_batch
from stream_app.streaming.remarks import Listener
from stream_app.streaming.rounds import Round
from tests.unit.fixtures import LIMITS, NOW, evaluator, event

TOPICS = TopicNames()


class Record(NamedTuple):
    topic: str
    partition: int
    offset: int
    value: bytes | None


class Teacher:
    """The learner's side the listener uses: its model, and the rated texts queued."""

    def __init__(self) -> None:
        self.sentiment = SentimentModel()
        self.queued: list[tuple[str, tuple[str, ...], bool]] = []

    def queue_text(self, event_id: str, toks: Sequence[str], positive: bool) -> None:
        self.queued.append((event_id, tuple(toks), positive))


def remark(kind: str, n: int, **fields: Any) -> dict[str, Any]:
    return event(kind, event_id=f"r-{n}", text="terrible, late again", **fields)


def listener(teacher: Teacher | None = None) -> Listener:
    return Listener(teacher, 0.25)  # type: ignore[arg-type]


def config(teacher: Teacher) -> BatchConfig:
    fold = FoldConfig(b"secret", None)
    return BatchConfig(TOPICS.streams(), LIMITS, fold, 1000, 60_000, 10, listener(teacher))


def records(*events: dict[str, Any]) -> list[Record]:
    return [Record(TOPICS.review, 0, i, orjson.dumps(e)) for i, e in enumerate(events)]


def parsed(raw: dict[str, Any]) -> Remark:
    found = EVENT_ADAPTERS[Stream.REVIEW].validate_python(raw)
    assert isinstance(found, Remark)
    return found


def test_stars_lead_a_rated_review_and_the_text_leads_an_unrated_comment() -> None:
    model = SentimentModel()
    rated = parsed(remark("review", 1, rating=5))  # five stars, a grumpy text
    text = model.polarity(tokens(rated.text))
    assert text < -0.3
    assert remark_polarity(rated, model, 0.25) == 0.75 * 1.0 + 0.25 * text
    assert remark_polarity(parsed(remark("comment", 2)), model, 0.25) == text
    assert (
        remark_polarity(parsed(remark("review", 3, rating=2, language="fr")), model, 0.25) == -0.5
    )


def test_a_foreign_unrated_text_is_counted_and_left_unscored() -> None:
    counts: Counts = Counter()
    assert listener().polarity(parsed(remark("comment", 1, language="de")), counts) is None
    assert counts[Plain("remarks_unscored")] == 1


def test_the_batch_folds_each_remark_with_its_polarity() -> None:
    teacher = Teacher()
    batch = decode_batch(
        records(remark("comment", 1), remark("comment", 2, language="es")), config(teacher), NOW
    )
    first, second = batch.updates["c-1"]
    assert next(op for op in first.ops if isinstance(op, Remarked)).polarity < -0.3
    assert not any(isinstance(op, Remarked) for op in second.ops)
    assert batch.counters[Plain("remarks_unscored")] == 1


def test_a_rated_review_is_taught_once_and_never_when_redelivered() -> None:
    teacher = Teacher()
    raw = [
        remark("review", 1, rating=1),
        remark("review", 2, rating=3),  # neutral: teaches nothing
        remark("comment", 3),  # unrated: nothing to learn from
    ]
    batch = decode_batch(records(*raw), config(teacher), NOW)
    loaded = Loaded(ProfileState("c-1", {}))
    evaluator().events(Round(batch, NOW), loaded)
    assert teacher.queued == [("r-1", tuple(tokens("terrible, late again")), False)]
    again = decode_batch(records(*raw), config(teacher), NOW)
    seen = Loaded(loaded.state, applied={event_key(f"r-{n}") for n in (1, 2, 3)})
    evaluator().events(Round(again, NOW), seen)
    assert len(teacher.queued) == 1
    assert loaded.state.fields["n:review"] == 2
