"""What customers write, in the pass: scored before the fold, rated texts sent to the learner.

A review or comment gets its polarity once, when its record is decoded
(``model.polarity``: the stars, blended with the text, or the model alone), and the fold
keeps only that (``profiles.mood``): the text goes no further. A rated English review
applied (not a duplicate) is queued once for the one learner, as tokens
(``Learner.queue_text``). The model is the learner's current snapshot; a worker without
a learner reads with the lexicon prior of a fresh model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stream_app.counts import Counts, Plain
from stream_app.events.reviews import Remark
from stream_app.model.polarity import lesson, remark_polarity
from stream_app.model.sentiment import SentimentModel
from stream_app.streaming.learning import Learner


@dataclass(slots=True)
class Listener:
    """Scores remarks with the learner's sentiment model (a fresh one without a learner)."""

    learner: Learner | None
    #: Weight of the text against the stars in a rated review's polarity.
    text_weight: float
    _prior: SentimentModel = field(default_factory=SentimentModel)

    def polarity(self, remark: Remark, counters: Counts) -> float | None:
        """``remark``'s polarity; None (counted as ``remarks_unscored``) when it has no
        rating and a language the model does not read."""
        model = self._prior if self.learner is None else self.learner.sentiment
        found = remark_polarity(remark, model, self.text_weight)
        if found is None:
            counters[Plain("remarks_unscored")] += 1
        return found

    def teach(self, remark: Remark) -> None:
        """Queue an applied rated review for the learner (the caller: once per event)."""
        taught = lesson(remark)
        if taught is not None and self.learner is not None:
            self.learner.queue_text(remark.event_id, *taught)
