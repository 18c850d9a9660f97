"""A concept flip: ADWIN notices, a fresh challenger takes over, the AUC comes back."""

from __future__ import annotations

import random

from stream_app.model.drift import AdaptiveEngagement, log_loss
from stream_app.model.quality import ProgressiveValidation

BEFORE = 3000
AFTER = 2000


def labelled(seed: int) -> list[tuple[dict[str, float], bool]]:
    """``y = a > 0`` for ``BEFORE`` labels, then ``y = a < 0`` ("red today, blue tomorrow")."""
    rng = random.Random(seed)
    rows = []
    for index in range(BEFORE + AFTER):
        a = rng.gauss(0, 1)
        positive = (a > 0) if index < BEFORE else (a < 0)
        rows.append(({"a": a, "b": rng.gauss(0, 1)}, positive != (rng.random() < 0.05)))
    return rows


def test_flip_is_detected_challenger_takes_over_and_auc_recovers() -> None:
    model = AdaptiveEngagement(compare_window=100)
    quality = ProgressiveValidation(window=300)
    first_version = model.version
    drifts_at: list[int] = []
    swaps_at: list[int] = []
    auc_before = 0.0
    for index, (x, y) in enumerate(labelled(seed=5)):
        quality.update(model.score(x), y)
        outcome = model.learn(x, y)
        if outcome.drift:
            drifts_at.append(index)
        if outcome.swapped:
            swaps_at.append(index)
        if index == BEFORE - 1:
            auc_before = quality.auc
    assert auc_before > 0.9
    after_flip = [i - BEFORE for i in drifts_at if i >= BEFORE]
    assert after_flip, "the flip was not detected"
    assert after_flip[0] < 200
    assert any(i >= BEFORE for i in swaps_at)
    assert model.version != first_version
    assert model.counters()["swaps"] >= 1
    assert quality.auc >= 0.9 * auc_before


def test_no_drift_no_swap_on_a_stable_concept() -> None:
    model = AdaptiveEngagement()
    rows = labelled(seed=6)[:BEFORE]
    outcomes = [model.learn(x, y) for x, y in rows]
    assert not any(o.swapped for o in outcomes[1000:])
    assert model.counters()["learned"] == BEFORE


def test_log_loss_is_finite_at_certainty() -> None:
    assert log_loss(1.0, False) < 20
    assert log_loss(0.0, False) < 1e-6
