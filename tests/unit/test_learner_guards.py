"""Faults in learning never reach the stream (no servers needed: the stores are not touched)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from stream_app.counts import Plain
from stream_app.model.bandit import ContentBandit
from stream_app.model.drift import AdaptiveEngagement
from stream_app.model.quality import ProgressiveValidation
from stream_app.storage.scoring import Scored
from stream_app.streaming.learning import Learner


class OneScored:
    """Hands out one scored decision, as the Redis store would."""

    def __init__(self, features: dict[str, float]) -> None:
        self._features = features

    async def take(self, pairs: Sequence[tuple[str, str]]) -> list[Scored | None]:
        return [Scored("c-1", "d-1", self._features, "lr-g1", 0.5, "new", "none")]


async def retry_now(call):  # type: ignore[no-untyped-def]
    return await call()


async def test_a_learning_fault_is_counted_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    learner = Learner(
        model=AdaptiveEngagement(),
        bandit=ContentBandit(),
        validation=ProgressiveValidation(10),
        offers=("none",),
        scoring=OneScored({"x": float("nan")}),  # type: ignore[arg-type]
        models=None,  # type: ignore[arg-type]
        retry=retry_now,  # type: ignore[arg-type]
    )
    counters = await learner.label([("c-1", "d-1")], True)
    assert counters[Plain("learning_errors")] + counters[Plain("labels_positive")] == 1
