"""Contract every engagement estimator variant, and every sentiment model variant, must meet
(river style: one test, all variants)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from stream_app.model.drift import AdaptiveEngagement
from stream_app.model.engagement import EngagementModel, Estimator
from stream_app.model.quality import ProgressiveValidation
from stream_app.model.sentiment import SentimentModel, rating_label, tokens
from stream_app.simulation.reviews import remark

Variant = Callable[[], EngagementModel | AdaptiveEngagement]
VARIANTS: dict[str, Variant] = {
    "logistic": EngagementModel,
    "logistic-fast": lambda: EngagementModel(learning_rate=0.1, l2=0.001),
    "adaptive": AdaptiveEngagement,
}
LOADERS = {
    EngagementModel: EngagementModel.from_bytes,
    AdaptiveEngagement: AdaptiveEngagement.from_bytes,
}


def separable(n: int, seed: int) -> list[tuple[dict[str, float], bool]]:
    """``y = a + 2b > 0`` with a little label noise and a useless feature."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = rng.gauss(0, 1), rng.gauss(0, 1)
        x = {"a": a, "b": b, "noise": rng.gauss(0, 1), "channel=push": 1.0}
        rows.append((x, (a + 2 * b > 0) != (rng.random() < 0.05)))
    return rows


def categorical(n: int, seed: int) -> list[tuple[dict[str, float], bool]]:
    """Engagement set by the one-hot alone: ``category=a`` engages, ``category=b`` does not."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        category = rng.choice("ab")
        x = {f"category={category}": 1.0, "noise": rng.gauss(0, 1)}
        rows.append((x, (category == "a") != (rng.random() < 0.1)))
    return rows


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_one_hot_features_are_learned(name: str) -> None:
    """A standard scaler zeroes a feature that is always 1 when present: one-hots bypass it."""
    model = VARIANTS[name]()
    for x, y in categorical(600, seed=5):
        model.learn(x, y)
    assert model.score({"category=a": 1.0, "noise": 0.0}) > 0.7
    assert model.score({"category=b": 1.0, "noise": 0.0}) < 0.3


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_estimator_contract(name: str) -> None:
    model = VARIANTS[name]()
    estimator: Estimator = model
    data = separable(1500, seed=3)
    first = data[0][0]
    assert model.score(first) == pytest.approx(0.5)
    quality = ProgressiveValidation(window=500)
    for x, y in data:
        p = estimator.score(x)
        assert 0.0 <= p <= 1.0
        quality.update(p, y)
        estimator.learn(x, y)
    assert estimator.learned == len(data)
    assert quality.auc > 0.8

    restored = type(model).from_bytes(estimator.to_bytes())
    assert [restored.score(x) for x, _ in data[:50]] == [model.score(x) for x, _ in data[:50]]
    assert restored.version == model.version

    shared = {"a": 0.4, "channel=push": 1.0}
    variants = [{"b": b / 4, "noise": -b / 8, f"hour={b}": 1.0} for b in range(-4, 5)]
    assert model.score_many(shared, variants) == pytest.approx(
        [model.score(shared | v) for v in variants], abs=1e-12
    )

    fresh = model.fresh()
    assert fresh.version != model.version
    assert fresh.learned == 0
    assert fresh.score(first) == pytest.approx(0.5)


def test_loading_another_kind_of_checkpoint_fails() -> None:
    with pytest.raises(TypeError):
        EngagementModel.from_bytes(AdaptiveEngagement().to_bytes())


SENTIMENT_VARIANTS: dict[str, Callable[[], SentimentModel]] = {
    "blend": SentimentModel,
    "learned-fast": lambda: SentimentModel(prior_weight=1),
    "small-vocabulary": lambda: SentimentModel(max_features=30),
}


@pytest.mark.parametrize("name", sorted(SENTIMENT_VARIANTS))
def test_sentiment_model_contract(name: str) -> None:
    """Polarity in [-1, 1], learned counts, versions and checkpoints alike for every variant."""
    model = SENTIMENT_VARIANTS[name]()
    rng = random.Random(11)
    rows = []
    for _ in range(300):
        polarity = rng.uniform(-1, 1)
        text, stars = remark(rng, polarity, rated=True)
        label = rating_label(stars or 3)
        if label is not None:
            rows.append((tokens(text), label))
    for toks, positive in rows:
        assert -1.0 <= model.polarity(toks) <= 1.0
        model.learn(toks, positive)
    assert model.learned == len(rows)
    assert model.version == "sent-g1"
    restored = SentimentModel.from_bytes(model.to_bytes())
    assert [restored.polarity(t) for t, _ in rows[:50]] == [model.polarity(t) for t, _ in rows[:50]]
    assert restored.version == model.version
    assert restored.learned == model.learned
    with pytest.raises(TypeError):
        SentimentModel.from_bytes(EngagementModel().to_bytes())
