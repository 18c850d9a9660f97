"""Online learning through the real worker: scoring, the label join, checkpoints."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter

import pytest
from redis.asyncio import Redis

from stream_app.counts import Counts
from stream_app.devstack.processes import ManagedProcess
from stream_app.events.decision import Decision
from stream_app.model.bandit import ContentBandit
from stream_app.model.drift import AdaptiveEngagement
from stream_app.model.quality import ProgressiveValidation
from stream_app.settings import Settings
from stream_app.storage.layout import Keys
from stream_app.storage.scoring import ModelStore, Scored, ScoringStore
from stream_app.storage.statfields import as_stats
from stream_app.storage.stats import StatsStore
from stream_app.streaming.learning import MODEL, Learner
from stream_app.streaming.retry import RedisRetry
from tests.integration.fixtures import commit, consume_until, dumps, event, eventually, produce

pytestmark = pytest.mark.integration


async def abandon_cart(settings: Settings, redis: Redis, keys: Keys, customer: str) -> None:
    """A new customer's push consent, then (once it is applied: Kafka orders records per
    partition only) an item added to the cart and left there."""
    key = customer.encode()
    await produce(
        settings,
        settings.topics.identity,
        [
            (
                key,
                dumps(
                    event(
                        "consent", customer, f"e-{uuid.uuid4().hex}", channel="push", opted_in=True
                    )
                ),
            ),
        ],
    )
    await eventually(lambda: redis.exists(keys.profile(customer)), bool, within=30)
    await produce(
        settings,
        settings.topics.clickstream,
        [
            (
                key,
                dumps(
                    event(
                        "add_to_cart",
                        customer,
                        f"e-{uuid.uuid4().hex}",
                        item_id="sku-9",
                        category="toys",
                        price=19.0,
                    )
                ),
            ),
        ],
    )


async def decision_for(settings: Settings, customer: str) -> Decision:
    records = await consume_until(
        settings,
        settings.topics.decisions,
        lambda seen: any(r.key == customer.encode() for r in seen),
        within=45,
    )
    [decision] = [
        Decision.model_validate_json(r.value)
        for r in records
        if r.key == customer.encode() and r.value
    ]
    return decision


async def test_decisions_are_scored_and_labelled_by_feedback_or_silence(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    clicker, silent = f"clk-{uuid.uuid4().hex[:8]}", f"sil-{uuid.uuid4().hex[:8]}"
    stats = StatsStore(redis, keys)
    before = await stats.read()
    await abandon_cart(settings, redis, keys, clicker)
    await abandon_cart(settings, redis, keys, silent)
    clicked, ignored = await decision_for(settings, clicker), await decision_for(settings, silent)

    for decision in (clicked, ignored):
        assert decision.score is not None
        assert 0.0 <= decision.score <= 1.0
        assert decision.propensity is not None
        assert 0.0 < decision.propensity <= 1.0
        assert decision.model_version
        assert decision.content.offer in settings.model.offers
    # What was scored waits under the decision id for its label.
    assert await redis.exists(keys.scored(clicker, clicked.decision_id))

    await produce(
        settings,
        settings.topics.feedback,
        [
            (
                clicker.encode(),
                dumps(
                    event(
                        "clicked",
                        clicker,
                        f"fb-{uuid.uuid4().hex}",
                        decision_id=clicked.decision_id,
                    )
                ),
            ),
        ],
    )

    def grew(name: str) -> object:
        return lambda now: now.get(name, 0) > before.get(name, 0)

    after = await eventually(stats.read, grew("labels_positive"), within=30)
    assert after.get("labels_positive", 0) - before.get("labels_positive", 0) >= 1
    assert not await redis.exists(keys.scored(clicker, clicked.decision_id)), "labelled once"
    # The ignored decision becomes a negative when its 4-second window ends.
    after = await eventually(stats.read, grew("labels_negative"), within=30)
    assert not await redis.exists(keys.scored(silent, ignored.decision_id))
    # The worker checkpoints the model (every second in tests) with its quality figures.
    meta = await eventually(
        lambda: ModelStore(redis, keys).meta(MODEL), lambda m: m.get("labels", 0) >= 2, within=30
    )
    assert {"auc", "log_loss", "drifts"} <= set(meta)


async def test_checkpoint_restores_the_same_model(redis: Redis, keys: Keys) -> None:
    def learner(models: ModelStore) -> Learner:
        return Learner(
            model=AdaptiveEngagement(),
            bandit=ContentBandit(seed=3),
            validation=ProgressiveValidation(50),
            offers=("none", "discount"),
            scoring=ScoringStore(redis, keys),
            models=models,
            retry=RedisRetry(1.0),
        )

    models = ModelStore(redis, Keys(f"t{uuid.uuid4().hex[:8]}"))
    trained = learner(models)
    scoring = ScoringStore(redis, keys)
    examples = [({"x": float(i % 7), "bias": 1.0}, i % 7 > 3) for i in range(300)]
    for n, (x, _) in enumerate(examples):
        item = Scored("c-1", f"d-{n}", x, "v", 0.5, "tier=new", "none")
        await commit(redis, lambda w, item=item: scoring.remember(w, [item], 60))
    for n, (_, y) in enumerate(examples):
        await trained.label([("c-1", f"d-{n}")], y)
    await trained.checkpoint()

    restored = learner(models)
    assert await restored.restore()
    probe = {"x": 6.0, "bias": 1.0}
    assert restored.model.score(probe) == trained.model.score(probe) > 0.5
    assert restored.model.version == trained.model.version
    assert restored.bandit.to_bytes() == trained.bandit.to_bytes()


async def test_drift_in_the_label_stream_is_detected_and_adapted_to(
    redis: Redis, keys: Keys
) -> None:
    """Labels flow through the Redis label join; the concept flips half way."""
    store = ScoringStore(redis, keys)
    learner = Learner(
        model=AdaptiveEngagement(compare_window=100, patience=2000),
        bandit=ContentBandit(seed=1),
        validation=ProgressiveValidation(200),
        offers=("none",),
        scoring=store,
        models=ModelStore(redis, keys),
        retry=RedisRetry(1.0),
    )
    customer = f"drift-{uuid.uuid4().hex[:8]}"
    counters: Counts = Counter()
    for n in range(3000):
        x = {"signal": float(n % 2), "bias": 1.0}
        engaged = (n % 2 == 1) if n < 1500 else (n % 2 == 0)  # "red today, blue tomorrow"
        item = Scored(customer, f"d-{n}", x, learner.model.version, learner.model.score(x))
        await commit(redis, lambda w, item=item: store.remember(w, [item], 60))
        counters.update(await learner.label([(customer, f"d-{n}")], engaged))
    assert as_stats(counters).get("model_drifts", 0) >= 1
    assert learner.validation.auc > 0.9, "the model follows the new concept"
    assert learner.model.score({"signal": 0.0, "bias": 1.0}) > 0.5


async def test_operators_read_model_quality_from_the_cli(redis: Redis, settings: Settings) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    own = settings.updated(redis={"key_prefix": prefix})
    env = {**os.environ, **own.to_env()}

    def status() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "stream_app", "model", "status"]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    assert status().returncode == 1, "no checkpoint yet"
    await ModelStore(redis, Keys(prefix)).save(MODEL, "lr-g2", b"blob", {"auc": 0.71, "drifts": 3})
    shown = status()
    assert shown.returncode == 0, shown.stderr
    assert "model lr-g2" in shown.stdout
    assert "auc" in shown.stdout
    assert "0.71" in shown.stdout
