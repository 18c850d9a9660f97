"""Champion/challenger adaptation to concept drift ("red today, blue tomorrow").

SGD alone does follow a drifting concept, but slowly: weights grown over
months of labels take as long to unlearn. ADWIN watches the champion's
per-label log loss; when its mean goes up, a fresh challenger starts learning
from the new concept alongside it and takes over once its recent log loss is
lower. A challenger that never wins is dropped, so a false alarm costs nothing
but its learning time.
"""

# river ships py.typed but leaves most signatures unannotated.
# mypy: disallow-untyped-calls=False

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from river import drift

from stream_app.model.checkpoint import Checkpointed
from stream_app.model.engagement import EngagementModel

_EPS = 1e-7


@dataclass(frozen=True, slots=True)
class LearnOutcome:
    """What one label changed: a drift was detected, and/or the challenger took over."""

    drift: bool
    swapped: bool


def log_loss(p: float, y: bool) -> float:
    """Binary log loss of probability ``p`` for label ``y``, clipped away from infinity.

    >>> round(log_loss(0.9, True), 4), round(log_loss(0.9, False), 4)
    (0.1054, 2.3026)
    """
    p = min(max(p, _EPS), 1.0 - _EPS)
    return -math.log(p if y else 1.0 - p)


class AdaptiveEngagement(Checkpointed):
    """An ``EngagementModel`` champion, an optional challenger, and ADWIN on the champion's loss.

    ``compare_window``: labels over which challenger and champion log losses are
    compared (the challenger needs that many before it can win);
    ``patience``: labels after which a challenger that has not won is dropped.
    """

    def __init__(
        self,
        champion: EngagementModel | None = None,
        *,
        delta: float = 0.002,
        compare_window: int = 300,
        patience: int = 5000,
    ) -> None:
        if compare_window < 1 or patience < compare_window:
            raise ValueError("need 1 <= compare_window <= patience")
        self.champion = champion or EngagementModel()
        self.challenger: EngagementModel | None = None
        self.delta = delta
        self.compare_window = compare_window
        self.patience = patience
        self.drifts = 0
        self.swaps = 0
        self.dropped = 0
        self._detector = drift.ADWIN(delta=delta)
        self._champion_losses: deque[float] = deque(maxlen=compare_window)
        self._challenger_losses: deque[float] = deque(maxlen=compare_window)
        self._challenger_age = 0

    @property
    def version(self) -> str:
        return self.champion.version

    @property
    def learned(self) -> int:
        return self.champion.learned

    def score(self, x: Mapping[str, float]) -> float:
        """Probability of engagement according to the champion."""
        return self.champion.score(x)

    def score_many(
        self, shared: Mapping[str, float], variants: Sequence[Mapping[str, float]]
    ) -> list[float]:
        return self.champion.score_many(shared, variants)

    def learn(self, x: Mapping[str, float], y: bool) -> LearnOutcome:
        """Learn one label: both models are scored on it first (progressive validation)."""
        loss = log_loss(self.champion.score(x), y)
        before = self._detector.estimation
        self._detector.update(loss)
        # ADWIN flags a change either way; only a loss that went up means the world
        # moved away from the model (a falling loss is the model getting better).
        detected = bool(self._detector.drift_detected) and self._detector.estimation > before
        if detected:
            self.drifts += 1
            if self.challenger is None:
                self.challenger = self.champion.fresh()
                self._challenger_losses.clear()
                self._challenger_age = 0
        self._champion_losses.append(loss)
        if self.challenger is not None:
            self._challenger_losses.append(log_loss(self.challenger.score(x), y))
            self.challenger.learn(x, y)
            self._challenger_age += 1
        self.champion.learn(x, y)
        swapped = self._maybe_swap()
        return LearnOutcome(drift=detected, swapped=swapped)

    def _maybe_swap(self) -> bool:
        if self.challenger is None or self._challenger_age < self.compare_window:
            return False
        if sum(self._challenger_losses) < sum(self._champion_losses):
            self.champion, self.challenger = self.challenger, None
            self.swaps += 1
            self._detector = drift.ADWIN(delta=self.delta)
            self._champion_losses = deque(self._challenger_losses, maxlen=self.compare_window)
            return True
        if self._challenger_age >= self.patience:
            self.challenger = None
            self.dropped += 1
        return False

    def counters(self) -> dict[str, int]:
        return {
            "drifts": self.drifts,
            "swaps": self.swaps,
            "challengers_dropped": self.dropped,
            "learned": self.learned,
        }

    def fresh(self) -> AdaptiveEngagement:
        """Same configuration, untrained champion of the next generation, no history."""
        return AdaptiveEngagement(
            self.champion.fresh(),
            delta=self.delta,
            compare_window=self.compare_window,
            patience=self.patience,
        )
