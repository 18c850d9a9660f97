"""The engagement model: P(engage | customer, message, time) learned online, one label at a time.

A scaled logistic regression: ~25 µs per predict+learn (PLATFORM-NOTES), a
pickle of a few KB, and coefficients one can read. Tree ensembles cost ~1 ms and
tens of MB per checkpoint, too much for per-candidate scoring.
Plain SGD: Adam and RMSProp did no better on bench/learning.py.
"""

# river ships py.typed but leaves most signatures unannotated.
# mypy: disallow-untyped-calls=False

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from river import compose, linear_model, optim, preprocessing
from river.utils.math import sigmoid

from stream_app.model.checkpoint import Checkpointed


class Estimator(Protocol):
    """What decisions and the benches need from any engagement estimator."""

    @property
    def version(self) -> str: ...

    @property
    def learned(self) -> int: ...

    def score(self, x: Mapping[str, float]) -> float: ...

    def score_many(
        self, shared: Mapping[str, float], variants: Sequence[Mapping[str, float]]
    ) -> list[float]: ...

    def learn(self, x: Mapping[str, float], y: bool) -> object: ...

    def to_bytes(self) -> bytes: ...


def numeric(x: dict[str, float]) -> dict[str, float]:
    """The numeric features (names without ``=``): these are standardised."""
    return {k: v for k, v in x.items() if "=" not in k}


def one_hots(x: dict[str, float]) -> dict[str, float]:
    """The one-hot features (``kind=value``), passed through unscaled: a standard scaler
    sees a one-hot only when it is 1, so its variance is 0 and it would scale it to 0."""
    return {k: v for k, v in x.items() if "=" in k}


def _logit(scaler: Any, weights: Mapping[str, float], x: Mapping[str, float]) -> float:
    """``x``'s part of the regression's logit: its numeric features scaled as the
    pipeline scales them, its one-hots as they are (an unknown feature weighs 0)."""
    scaled: dict[str, float] = scaler.transform_one({k: v for k, v in x.items() if "=" not in k})
    total = sum(weights.get(k, 0.0) * v for k, v in scaled.items())
    return total + sum(weights.get(k, 0.0) * v for k, v in x.items() if "=" in k)


class EngagementModel(Checkpointed):
    """``(StandardScaler on numeric + one-hots) | LogisticRegression(SGD(learning_rate))``,
    with a generation for its version. The rate is kept as ``lr``: checkpoints pickle the
    attributes, and the ones saved before keep loading."""

    def __init__(self, learning_rate: float = 0.02, l2: float = 0.0, generation: int = 1) -> None:
        self.lr = learning_rate
        self.l2 = l2
        self.generation = generation
        self._learned = 0
        scaled = compose.FuncTransformer(numeric) | preprocessing.StandardScaler()
        self._pipeline: compose.Pipeline = (scaled + compose.FuncTransformer(one_hots)) | (
            linear_model.LogisticRegression(optimizer=optim.SGD(learning_rate), l2=l2)
        )

    @property
    def version(self) -> str:
        return f"lr-g{self.generation}"

    @property
    def learned(self) -> int:
        """Labels learned so far."""
        return self._learned

    def score(self, x: Mapping[str, float]) -> float:
        """Probability of engagement (0.5 before any label)."""
        proba: dict[Any, float] = self._pipeline.predict_proba_one(dict(x))
        return float(proba.get(True, 0.0))

    def score_many(
        self, shared: Mapping[str, float], variants: Sequence[Mapping[str, float]]
    ) -> list[float]:
        """``score(shared | variant)`` for each variant (whose features ``shared`` lacks),
        the shared features weighed once: the logit is a sum over features, and the
        send-time search scores one message at about ten moments (a fifth of the cost)."""
        union, regression = self._pipeline.steps.values()
        scaler = union.transformers["Pipeline"].steps["StandardScaler"]
        weights = regression.weights
        base = regression.intercept + _logit(scaler, weights, shared)
        return [sigmoid(base + _logit(scaler, weights, v)) for v in variants]

    def learn(self, x: Mapping[str, float], y: bool) -> None:
        self._pipeline.learn_one(dict(x), bool(y))
        self._learned += 1

    def fresh(self) -> EngagementModel:
        """Same configuration, untrained, next generation (a challenger or a reset)."""
        return EngagementModel(self.lr, self.l2, self.generation + 1)
