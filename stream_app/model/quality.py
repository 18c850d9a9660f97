"""Progressive validation: every prediction is scored against its label before it is learned.

Rolling windows, not totals, so a figure says how the model does *now*: a
lifetime AUC hides a drop after a change of tastes for weeks. The AUC is
river's ``metrics.RollingROCAUC`` (exact, ranks the window); ``utils.Rolling``
around ``ROCAUC`` works too but bins scores at 10 thresholds, which flattens
engagement probabilities that mostly sit below 0.3.
"""

# river ships py.typed but leaves most signatures unannotated.
# mypy: disallow-untyped-calls=False

from __future__ import annotations

from collections import deque

from river import metrics

from stream_app.model.drift import log_loss


class ProgressiveValidation:
    """Rolling ROC AUC and log loss over the last ``window`` (prediction, label) pairs.

    >>> pv = ProgressiveValidation(window=4)
    >>> for p, y in [(0.9, True), (0.2, False), (0.6, True), (0.7, False)]:
    ...     pv.update(p, y)
    >>> pv.report()
    {'auc': 0.75, 'log_loss': 0.5..., 'labels': 4.0, 'positive_rate': 0.5}
    """

    def __init__(self, window: int = 1000) -> None:
        if window < 2:
            raise ValueError("window must be >= 2")
        self.window = window
        self._auc = metrics.RollingROCAUC(window_size=window)
        self._losses: deque[float] = deque(maxlen=window)
        self._labels: deque[bool] = deque(maxlen=window)
        self.seen = 0

    def update(self, p: float, y: bool) -> None:
        self._auc.update(bool(y), float(p))
        self._losses.append(log_loss(p, y))
        self._labels.append(bool(y))
        self.seen += 1

    @property
    def auc(self) -> float:
        """Rolling ROC AUC; 0.5 until the window holds both classes."""
        if all(self._labels) or not any(self._labels):
            return 0.5
        return float(self._auc.get())

    def report(self) -> dict[str, float]:
        n = len(self._losses)
        return {
            "auc": self.auc,
            "log_loss": sum(self._losses) / n if n else 0.0,
            "labels": float(self.seen),
            "positive_rate": sum(self._labels) / n if n else 0.0,
        }


class RollingRate:
    """Mean of the last ``window`` rewards (the bandit's reward rate).

    >>> rate = RollingRate(window=2)
    >>> for reward in (1.0, 0.0, 0.0):
    ...     rate.update(reward)
    >>> rate.value
    0.0
    """

    def __init__(self, window: int = 1000) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self._values: deque[float] = deque(maxlen=window)
        self._sum = 0.0

    def update(self, reward: float) -> None:
        if len(self._values) == self._values.maxlen:
            self._sum -= self._values[0]
        self._values.append(reward)
        self._sum += reward

    @property
    def value(self) -> float:
        return self._sum / len(self._values) if self._values else 0.0
