"""One model for all workers: the trainer that learns everybody's labels, and its versions.

Every worker scores with the same published snapshot; labelled decisions from
all workers reach one trainer, which learns them and numbers its snapshots
``<model version>-<n>`` (``n`` only grows, across restarts and failovers too:
a trainer continues from the snapshot it loaded). Pure: the adapters that carry
labels and snapshots live in ``streaming``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from stream_app.counts import Counts, Plain
from stream_app.events.labels import Label, TextLabel
from stream_app.model.bandit import ContentBandit
from stream_app.model.drift import AdaptiveEngagement
from stream_app.model.quality import ProgressiveValidation, RollingRate
from stream_app.model.sentiment import SentimentModel

log = logging.getLogger(__name__)

#: Prefix of the snapshot meta's per-origin label counts (``labels_from:<origin>``).
FROM = "labels_from:"


def version_number(version: str | None) -> int:
    """The snapshot number at the end of ``version`` (0 for none or an older checkpoint's).

    >>> version_number("lr-g2-41"), version_number("lr-g2"), version_number(None)
    (41, 0, 0)
    """
    tail = (version or "").rpartition("-")[2]
    return int(tail) if tail.isdigit() else 0


@dataclass
class Trainer:
    """The one learner: the model, the bandit, the sentiment model, their rolling quality,
    and snapshot numbers.

    ``origins`` keeps the label counts of the last ``max_origins`` workers that sent
    any (operators see who feeds the model; workers that left drop out)."""

    model: AdaptiveEngagement
    bandit: ContentBandit
    validation: ProgressiveValidation
    number: int = 0
    max_origins: int = 16
    dirty: bool = False
    origins: dict[str, int] = field(default_factory=dict)
    sentiment: SentimentModel = field(default_factory=SentimentModel)
    #: Texts learned since the sentiment model was last saved with a snapshot.
    texts_dirty: bool = False
    #: Snapshots between two saves of the sentiment model at least: at its vocabulary
    #: cap it pickles to ~0.6 MB in ~0.1 s and loads in ~0.2 s on every worker, too
    #: much each second; texts learned meanwhile wait (about 10 s at the default
    #: interval) and are lost with a learner that dies, as labels are.
    sentiment_every: int = 10
    #: Snapshots still to go before the sentiment model may be saved again.
    sentiment_wait: int = 0
    reward: RollingRate = field(init=False)
    text_validation: ProgressiveValidation = field(init=False)

    def __post_init__(self) -> None:
        self.reward = RollingRate(self.validation.window)
        self.text_validation = ProgressiveValidation(self.validation.window)

    @property
    def version(self) -> str:
        """The version of the snapshot that holds what was learned so far."""
        return f"{self.model.version}-{self.number}"

    def adopt(
        self,
        model: AdaptiveEngagement,
        bandit: ContentBandit,
        version: str,
        meta: Mapping[str, float],
        sentiment: SentimentModel | None = None,
    ) -> None:
        """Continue from a published snapshot (at a start, or after another trainer
        published one), with its per-worker label counts and its sentiment model (a
        new one when it has none: an older release's snapshot)."""
        self.model, self.bandit = model, bandit
        self.sentiment = SentimentModel() if sentiment is None else sentiment
        self.number = version_number(version)
        self.origins = {k.removeprefix(FROM): int(v) for k, v in meta.items() if k.startswith(FROM)}
        self.dirty = self.texts_dirty = False

    def learn(self, labels: Iterable[Label]) -> Counts:
        """Learn each label once, in order; a failing one is counted, never raised."""
        counters: Counts = Counter()
        for label in labels:
            try:
                self._learn(label, counters)
            except Exception:  # learning must never stop the stream
                log.exception("learning from decision %s failed", label.decision_id)
                counters[Plain("learning_errors")] += 1
        return counters

    def _learn(self, label: Label, counters: Counts) -> None:
        engaged = label.engaged
        self.validation.update(self.model.score(label.features), engaged)
        outcome = self.model.learn(label.features, engaged)
        if label.arm:
            self.bandit.update(label.context, label.arm, 1.0 if engaged else 0.0)
            self.reward.update(1.0 if engaged else 0.0)
        self._count(label.origin)
        self.dirty = True
        if outcome.drift:
            counters[Plain("model_drifts")] += 1
            log.warning(
                "drift detected in the engagement model (%s)",
                self.model.version,
                extra={"event": "drift", "model_version": self.model.version},
            )
        if outcome.swapped:
            counters[Plain("model_swaps")] += 1
            log.warning("challenger took over: engagement model now %s", self.model.version)

    def learn_texts(self, texts: Iterable[TextLabel]) -> Counts:
        """Learn each rated text once (a repeated event id is counted and skipped), after
        scoring it for the rolling AUC; a failing one is counted, never raised."""
        counters: Counts = Counter()
        for text in texts:
            try:
                toks, positive = text.tokens, text.positive
                polarity = self.sentiment.polarity(toks)
                if not self.sentiment.learn_once(text.event_id, toks, positive):
                    counters[Plain("texts_repeated")] += 1
                    continue
                self.text_validation.update((polarity + 1.0) / 2.0, positive)
            except Exception:  # learning must never stop the stream
                log.exception("learning from text %s failed", text.event_id)
                counters[Plain("learning_errors")] += 1
                continue
            counters[Plain("texts_learned")] += 1
            self.dirty = self.texts_dirty = True
        return counters

    def _count(self, origin: str) -> None:
        self.origins[origin] = self.origins.pop(origin, 0) + 1  # the newest last
        if len(self.origins) > self.max_origins:
            del self.origins[next(iter(self.origins))]

    def publish(self) -> str | None:
        """The next snapshot's version when something was learned since the last one
        (None: nothing new to publish)."""
        if not self.dirty:
            return None
        self.number += 1
        self.dirty = False
        return self.version

    def sentiment_blob(self) -> bytes | None:
        """The sentiment model's checkpoint to save with the snapshot being published,
        when it learned since it was last saved, at most every ``sentiment_every``
        snapshots (None: the published one stands)."""
        self.sentiment_wait = max(0, self.sentiment_wait - 1)
        if not self.texts_dirty or self.sentiment_wait:
            return None
        self.texts_dirty, self.sentiment_wait = False, self.sentiment_every
        return self.sentiment.to_bytes()

    def sentiment_unsaved(self) -> None:
        """The snapshot with the sentiment model was not saved: save it with the next."""
        self.texts_dirty, self.sentiment_wait = True, 0

    def meta(self) -> dict[str, float]:
        """What the snapshot says about the model: rolling quality, drift counters, the
        bandit's reward rate, the sentiment model's texts and rolling AUC (progressive
        validation) and the labels learned from each worker."""
        return {
            **self.validation.report(),
            **self.model.counters(),
            "bandit_reward_rate": self.reward.value,
            "sentiment_texts": float(self.sentiment.learned),
            "sentiment_auc": self.text_validation.auc,
            "sentiment_weight": self.sentiment.weight,
            **{f"{FROM}{origin}": float(n) for origin, n in self.origins.items()},
        }
