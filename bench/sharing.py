"""Workers sharing one model as the product does, in simulated time (for bench/learning.py).

A ``Fleet`` plays ``workers`` workers: each scores its own customers (split by a
hash of the id, as Kafka partitions split them) with the last snapshot it
loaded; one learner (the worker's own ``Trainer``) learns every worker's labels
and publishes a snapshot at the first publish tick after it learned; each
worker loads the newest snapshot published before its latest refresh tick
(their phases spread over the refresh interval). Snapshots go through the same
pickles as in Redis. ``split=True`` plays the release before: each worker learns
from its own customers' labels only and scores with that model.

The intervals are simulated time. The product's are seconds; the bench's
simulated hour holds ``--candidates-per-hour`` labels, so ``labels_per_s``
states the production label rate whose snapshot lag (in labels) the simulated
intervals reproduce.
"""

from __future__ import annotations

import logging
import zlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from stream_app.events.labels import Label
from stream_app.model.bandit import ContentBandit
from stream_app.model.drift import AdaptiveEngagement
from stream_app.model.quality import ProgressiveValidation
from stream_app.model.shared import Trainer

# The fleets' learners see the drifts the online model reports already: once is enough.
logging.getLogger("stream_app.model.shared").setLevel(logging.ERROR)


@dataclass(slots=True)
class Scorer:
    """One worker's loaded snapshot and when it looks for a newer one."""

    model: AdaptiveEngagement
    version: str
    phase_ms: int


@dataclass(frozen=True, slots=True)
class Published:
    at_ms: int
    version: str
    blob: bytes


class Fleet:
    """``workers`` workers scoring with snapshots of one learner (or, ``split``, each
    with a learner of its own)."""

    def __init__(
        self,
        model: AdaptiveEngagement,
        *,
        workers: int,
        publish_ms: int,
        refresh_ms: int,
        start_ms: int,
        split: bool = False,
    ) -> None:
        blob = model.to_bytes()
        self.split = split
        self.trainers = [
            Trainer(AdaptiveEngagement.from_bytes(blob), ContentBandit(), ProgressiveValidation(2))
            for _ in range(workers if split else 1)
        ]
        self.publish_ms, self.refresh_ms, self.start_ms = publish_ms, refresh_ms, start_ms
        self.scorers = [
            Scorer(AdaptiveEngagement.from_bytes(blob), "-", start_ms + refresh_ms * i // workers)
            for i in range(workers)
        ]
        self.loads = 0
        self._published: deque[Published] = deque(maxlen=256)
        self._last_label_ms: int | None = None

    def _worker(self, customer_id: str) -> int:
        return zlib.crc32(customer_id.encode()) % len(self.scorers)

    def score(self, customer_id: str, x: Mapping[str, float], now_ms: int) -> float:
        """What the worker holding ``customer_id`` scores ``x`` at ``now_ms``."""
        i = self._worker(customer_id)
        if self.split:
            return self.trainers[i].model.score(x)
        self._publish_due(now_ms)
        scorer = self.scorers[i]
        self._refresh(scorer, now_ms)
        return scorer.model.score(x)

    def learn(self, customer_id: str, x: Mapping[str, float], y: bool, now_ms: int) -> None:
        """The label of a decision for ``customer_id``, learned by the one learner (or,
        ``split``, by the customer's worker)."""
        i = self._worker(customer_id)
        if not self.split:
            self._publish_due(now_ms)
        label = Label(decision_id="-", features=dict(x), engaged=y, origin=str(i))
        self.trainers[i if self.split else 0].learn([label])
        self._last_label_ms = now_ms

    @property
    def model(self) -> AdaptiveEngagement:
        return self.trainers[0].model

    def _publish_due(self, now_ms: int) -> None:
        """The snapshot of the first publish tick after the last label, once it is past
        (it holds every label so far: they are all older than that tick)."""
        trainer, last = self.trainers[0], self._last_label_ms
        if not trainer.dirty or last is None:
            return
        tick = self.start_ms + ((last - self.start_ms) // self.publish_ms + 1) * self.publish_ms
        if tick <= now_ms:
            version = trainer.publish()
            assert version is not None
            self._published.append(Published(tick, version, trainer.model.to_bytes()))

    def _refresh(self, scorer: Scorer, now_ms: int) -> None:
        """Load the newest snapshot published before the scorer's latest refresh tick."""
        tick = scorer.phase_ms + (now_ms - scorer.phase_ms) // self.refresh_ms * self.refresh_ms
        newest = next((p for p in reversed(self._published) if p.at_ms <= tick), None)
        if newest is not None and newest.version != scorer.version:
            scorer.model = AdaptiveEngagement.from_bytes(newest.blob)
            scorer.version = newest.version
            self.loads += 1
