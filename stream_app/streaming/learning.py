"""Every worker's side of the one shared model: scoring with the latest snapshot, sending labels.

Scoring happens only for decision candidates (never per raw event). What was
scored is stored with the decision (``ScoringStore``) and joined to its label:
positive when a click or conversion arrives, negative when the attribution
window ends first. A label is taken once (``GETDEL``), then sent on the labels
topic, all of a pass's labels in a few records; the worker that holds that
topic's single partition learns them all (``streaming.training``) and publishes
versioned snapshots of the model and the bandit to Redis. Every worker polls
the published version (one ``HGET`` a tick) and loads a snapshot only when it
changed, so all workers score with one model within seconds; every decision
carries the version it was scored with (README, "Learning").
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from stream_app.counts import Counts, Plain
from stream_app.events.decision import Decision
from stream_app.events.labels import Label, Labels, TextLabel
from stream_app.model.bandit import ContentBandit
from stream_app.model.drift import AdaptiveEngagement
from stream_app.model.features import (
    Candidate,
    Message,
    featurize,
    message_features,
    moment_features,
)
from stream_app.model.sentiment import SentimentModel
from stream_app.profiles.derive import ProfileView
from stream_app.storage.scoring import ModelStore, Scored, ScoringStore, Snapshot
from stream_app.streaming.publisher import OutRecord
from stream_app.streaming.retry import RedisRetry

log = logging.getLogger(__name__)

MODEL = "engagement"
#: Labels per record on the labels topic (~1.5 KB each: well below a record's limit).
LABELS_PER_RECORD = 200


@dataclass
class Learner:
    """The snapshot this worker scores with, and the labels it took, until they are sent."""

    model: AdaptiveEngagement
    bandit: ContentBandit
    offers: Sequence[str]
    scoring: ScoringStore
    models: ModelStore
    retry: RedisRetry
    topic: str
    origin: str
    version: str = field(init=False)
    #: The loaded snapshot's figures (rolling AUC, labels...): empty before the first.
    meta: dict[str, float] = field(default_factory=dict, init=False)
    #: The sentiment model of the loaded snapshot (scores unrated comments in the pass).
    sentiment: SentimentModel = field(default_factory=SentimentModel)
    #: The snapshot version ``sentiment`` was saved with (None: the prior alone).
    sentiment_at: str | None = field(default=None, init=False)
    _outbox: list[Label] = field(default_factory=list, init=False)
    _texts: list[TextLabel] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.version = f"{self.model.version}-0"

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
            self.version,
            self.model.score(features),
            view.tier,
            offer if decision.propensity is not None else "",
            decision.propensity or 1.0,
        )

    async def label(self, pairs: Sequence[tuple[str, str]], engaged: bool) -> Counts:
        """Label the decisions in ``pairs`` that still await one."""
        taken = await self.retry(lambda: self.scoring.take(pairs))
        return self.queue([scored for scored in taken if scored is not None], engaged)

    def queue(self, taken: Sequence[Scored], engaged: bool) -> Counts:
        """Queue labels of decisions whose features were taken for them (each once) for
        the learner; ``outbound`` hands them to the pass's publishing."""
        counters: Counts = Counter()
        for scored in taken:
            try:
                label = Label(
                    decision_id=scored.decision_id,
                    features=dict(scored.features),
                    engaged=engaged,
                    context=scored.context,
                    arm=scored.arm,
                    origin=self.origin,
                )
            except ValidationError:  # e.g. a NaN feature: never in a record that others share
                log.exception("decision %s cannot be labelled", scored.decision_id)
                counters[Plain("learning_errors")] += 1
                continue
            self._outbox.append(label)
            counters[Plain("labels_positive" if engaged else "labels_negative")] += 1
        return counters

    def queue_text(self, event_id: str, toks: Sequence[str], positive: bool) -> None:
        """Queue a rated text for the sentiment model (sent with the pass's labels)."""
        self._texts.append(
            TextLabel(
                event_id=event_id, tokens=list(toks[:400]), positive=positive, origin=self.origin
            )
        )

    def outbound(self) -> list[OutRecord]:
        """The queued labels as records of the labels topic (emptying the queues)."""
        queued, self._outbox = self._outbox, []
        texts, self._texts = self._texts, []
        records = [
            Labels(labels=queued[i : i + LABELS_PER_RECORD])
            for i in range(0, len(queued), LABELS_PER_RECORD)
        ]
        records += [
            Labels(texts=texts[i : i + LABELS_PER_RECORD])
            for i in range(0, len(texts), LABELS_PER_RECORD)
        ]
        return [OutRecord(self.topic, None, r.model_dump_json().encode()) for r in records]

    async def refresh(self) -> bool:
        """Load the published snapshot if its version is not ours (one ``HGET`` when
        it is); True when another one was loaded. Never raises nor retries: scoring
        goes on with the snapshot at hand, the next tick tries again."""
        try:
            version = await self.models.version(MODEL)
            if version is None or version == self.version:
                return False
            snapshot = await self.models.snapshot(MODEL, self.sentiment_at)
            if snapshot is None:
                return False
            self._adopt(snapshot)
        except Exception as exc:  # Redis away, or a snapshot this release cannot read
            log.warning("model snapshot not loaded (scoring with %s): %r", self.version, exc)
            return False
        return True

    def _adopt(self, snapshot: Snapshot) -> None:
        model, loaded, sentiment = unpack(snapshot, self.bandit, self.sentiment)
        bandit = loaded.drawing_as(self.bandit)
        # One step, no await between: a decision never mixes two snapshots.
        self.model, self.bandit, self.sentiment, self.sentiment_at, self.version, self.meta = (
            model,
            bandit,
            sentiment,
            snapshot.sentiment_at,
            snapshot.version,
            snapshot.meta,
        )
        log.info("engagement model %s loaded", snapshot.version)


def unpack(
    snapshot: Snapshot, bandit: ContentBandit, sentiment: SentimentModel | None = None
) -> tuple[AdaptiveEngagement, ContentBandit, SentimentModel]:
    """The snapshot's model, bandit (``bandit`` when it has none: an older checkpoint) and
    sentiment model: its own when it carried one, ``sentiment`` when the snapshot's is the
    one the reader has (not read again), a new one (the lexicon prior) when none was saved."""
    model = AdaptiveEngagement.from_bytes(snapshot.blob)
    loaded = bandit if snapshot.bandit is None else ContentBandit.from_bytes(snapshot.bandit)
    if snapshot.sentiment is not None:
        sentiment = SentimentModel.from_bytes(snapshot.sentiment)
    elif snapshot.sentiment_at is None or sentiment is None:
        sentiment = SentimentModel()
    return model, loaded, sentiment
