"""The worker's online learner: scores decision candidates, learns from their labels.

Scoring happens only for decision candidates (never per raw event). What was
scored is stored with the decision (``ScoringStore``) and joined to its label:
positive when a click or conversion arrives, negative when the attribution
window ends first. The model and the bandit are checkpointed to Redis at
intervals and restored when a worker starts; with several workers each learns
from its own share of feedback and the latest checkpoint wins (documented in
README, "Learning").
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from stream_app.counts import Counts, Plain
from stream_app.events.decision import Decision
from stream_app.model.bandit import ContentBandit
from stream_app.model.drift import AdaptiveEngagement
from stream_app.model.features import (
    Candidate,
    Message,
    featurize,
    message_features,
    moment_features,
)
from stream_app.model.quality import ProgressiveValidation, RollingRate
from stream_app.profiles.derive import ProfileView
from stream_app.storage.scoring import ModelStore, Scored, ScoringStore
from stream_app.streaming.retry import RedisRetry

log = logging.getLogger(__name__)

MODEL = "engagement"
BANDIT = "content-bandit"


@dataclass
class Learner:
    """The engagement model, the content bandit and their quality, with where they are kept."""

    model: AdaptiveEngagement
    bandit: ContentBandit
    validation: ProgressiveValidation
    offers: Sequence[str]
    scoring: ScoringStore
    models: ModelStore
    retry: RedisRetry
    reward: RollingRate = field(init=False)

    def __post_init__(self) -> None:
        self.reward = RollingRate(self.validation.window)

    def pick_offer(self, view: ProfileView) -> tuple[str, float]:
        """The bandit's offer for the customer's context (tier), with its propensity."""
        return self.bandit.choose(view.tier, self.offers)

    def scores(
        self, view: ProfileView, message: Message, moments: Sequence[datetime]
    ) -> list[float]:
        """Predicted engagement with ``message`` sent at each of ``moments`` (the
        send-time search's candidates)."""
        shared = message_features(view, message)
        return self.model.score_many(shared, [moment_features(view, at) for at in moments])

    def remember(self, view: ProfileView, decision: Decision, category: str | None) -> Scored:
        """The features ``decision`` is scored on at its send time, to be joined to its label."""
        offer = decision.content.offer or "none"
        features = featurize(
            view,
            Candidate(decision.campaign_id, decision.channel, category, offer, decision.send_at),
        )
        return Scored(
            decision.customer_id,
            decision.decision_id,
            features,
            self.model.version,
            self.model.score(features),
            view.tier,
            offer if decision.propensity is not None else "",
            decision.propensity or 1.0,
        )

    async def label(self, pairs: Sequence[tuple[str, str]], engaged: bool) -> Counts:
        """Learn from the decisions in ``pairs`` that still await a label."""
        taken = await self.retry(lambda: self.scoring.take(pairs))
        return self.learn([scored for scored in taken if scored is not None], engaged)

    def learn(self, taken: Sequence[Scored], engaged: bool) -> Counts:
        """Learn from decisions whose features were taken for this label (each once)."""
        counters: Counts = Counter()
        for scored in taken:
            try:
                self._learn(scored, engaged, counters)
            except Exception:  # learning must never stop the stream
                log.exception("learning from decision %s failed", scored.decision_id)
                counters[Plain("learning_errors")] += 1
        return counters

    def _learn(self, scored: Scored, engaged: bool, counters: Counts) -> None:
        self.validation.update(self.model.score(scored.features), engaged)
        outcome = self.model.learn(scored.features, engaged)
        if scored.arm:
            self.bandit.update(scored.context, scored.arm, 1.0 if engaged else 0.0)
            self.reward.update(1.0 if engaged else 0.0)
        counters[Plain("labels_positive" if engaged else "labels_negative")] += 1
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

    async def checkpoint(self) -> None:
        """Save model and bandit, with the rolling quality figures beside the model."""
        meta = {
            **self.validation.report(),
            **self.model.counters(),
            "bandit_reward_rate": self.reward.value,
        }
        blob = self.model.to_bytes()
        await self.retry(lambda: self.models.save(MODEL, self.model.version, blob, meta))
        await self.retry(lambda: self.models.save(BANDIT, "bandit", self.bandit.to_bytes()))

    async def restore(self) -> bool:
        """Load the latest checkpoints, if any; True when a model was restored."""
        model = await self.retry(lambda: self.models.load(MODEL))
        bandit = await self.retry(lambda: self.models.load(BANDIT))
        if model is not None:
            self.model = AdaptiveEngagement.from_bytes(model[1])
        if bandit is not None:
            self.bandit = ContentBandit.from_bytes(bandit[1])
        return model is not None
