"""Online learning through the real worker: scoring, the label join, checkpoints."""

from __future__ import annotations

import os
import re
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
from stream_app.model.sentiment import tokens
from stream_app.model.shared import FROM, Trainer, version_number
from stream_app.settings import Settings
from stream_app.storage.layout import Keys
from stream_app.storage.scoring import ModelStore, Scored, ScoringStore
from stream_app.storage.statfields import as_stats
from stream_app.storage.stats import StatsStore
from stream_app.streaming.learning import MODEL, Learner
from stream_app.streaming.retry import RedisRetry
from stream_app.streaming.training import Training
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
        assert re.fullmatch(r"lr-g\d+-\d+", decision.model_version or ""), "scored with a snapshot"
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
    # The one learner (the only worker) publishes snapshots (every second in tests) with
    # their quality figures; the worker scores with the latest within seconds.
    meta = await eventually(
        lambda: ModelStore(redis, keys).meta(MODEL), lambda m: m.get("labels", 0) >= 2, within=30
    )
    assert {"auc", "log_loss", "drifts"} <= set(meta)
    version = await ModelStore(redis, keys).version(MODEL)
    assert version is not None
    assert version_number(version) >= 1


def learner_of(redis: Redis, keys: Keys, offers: tuple[str, ...] = ("none", "discount")) -> Learner:
    return Learner(
        model=AdaptiveEngagement(),
        bandit=ContentBandit(seed=3),
        offers=offers,
        scoring=ScoringStore(redis, keys),
        models=ModelStore(redis, keys),
        retry=RedisRetry(1.0),
        topic="labels",
        origin="w-test",
    )


def training_of(redis: Redis, keys: Keys, model: AdaptiveEngagement | None = None) -> Training:
    trainer = Trainer(
        model or AdaptiveEngagement(), ContentBandit(seed=3), ProgressiveValidation(200)
    )
    return Training(trainer, ModelStore(redis, keys), StatsStore(redis, keys), RedisRetry(1.0))


async def labelled(
    redis: Redis,
    worker: Learner,
    training: Training,
    customer: str,
    examples: list[tuple[dict[str, float], bool]],
) -> Counts:
    """``examples`` through the label join and the labels' records to the one learner."""
    counters: Counts = Counter()
    for n, (x, y) in enumerate(examples):
        item = Scored(
            customer, f"d-{n}", x, worker.version, worker.model.score(x), "tier=new", "none"
        )
        await commit(redis, lambda w, item=item: worker.scoring.remember(w, [item], 60))
        counters.update(await worker.label([(customer, f"d-{n}")], y))
        counters.update(await training.learn([r.value for r in worker.outbound()]))
    return counters


async def test_workers_load_the_published_snapshot_only_when_it_changed(
    redis: Redis, keys: Keys
) -> None:
    own = Keys(f"t{uuid.uuid4().hex[:8]}")
    worker, training = learner_of(redis, own), training_of(redis, own)
    assert not await worker.refresh(), "nothing published yet"
    examples = [({"x": float(i % 7), "bias": 1.0}, i % 7 > 3) for i in range(300)]
    await labelled(redis, worker, training, "c-1", examples)
    assert worker.model.learned == 0, "a worker only scores"
    version = await training.publish()
    assert version == f"{worker.model.version}-1"
    assert await training.publish() is None, "nothing new learned: nothing published"

    other = learner_of(redis, own)
    assert await other.refresh()
    assert other.version == version
    probe = {"x": 6.0, "bias": 1.0}
    assert other.model.score(probe) == training.trainer.model.score(probe) > 0.5
    assert other.bandit.to_bytes() == training.trainer.bandit.to_bytes()
    assert other.meta["labels"] == 300
    assert other.meta[f"{FROM}w-test"] == 300
    assert not await other.refresh(), "same version: nothing loaded"

    # A learner that takes over continues the numbering from the published snapshot;
    # the one before, that learned meanwhile, does not overwrite it.
    successor = training_of(redis, own)
    await labelled(redis, worker, successor, "c-2", examples[:10])
    assert successor.trainer.model.learned == 310
    await labelled(redis, worker, training, "c-3", examples[:5])
    assert await successor.publish() == f"{worker.model.version}-2"
    assert await training.publish() is None, "not over its successor's snapshot"
    assert await other.refresh()
    assert other.version == f"{worker.model.version}-2"
    assert other.model.learned == 310


async def test_rated_texts_reach_every_worker_in_the_published_snapshot(
    redis: Redis, keys: Keys
) -> None:
    """A worker queues rated texts (tokens), the one learner learns each once and
    publishes; another worker loads the sentiment model; a successor continues it."""
    own = Keys(f"t{uuid.uuid4().hex[:8]}")
    worker, training = learner_of(redis, own), training_of(redis, own)
    bad, good = tokens("parcel never came, call 0207 946 0958"), tokens("parcel came early")
    for n in range(60):
        worker.queue_text(f"r-{n}", bad if n % 2 else good, positive=n % 2 == 0)
    worker.queue_text("r-1", bad, positive=False)  # a review redelivered to the worker
    counters = await training.learn([r.value for r in worker.outbound()])
    assert as_stats(counters) == {"texts_learned": 60, "texts_repeated": 1}
    assert await training.publish() == f"{worker.model.version}-1"

    other = learner_of(redis, own)
    assert other.sentiment.learned == 0, "before a snapshot: the lexicon prior alone"
    assert await other.refresh()
    assert other.sentiment.learned == 60
    assert other.sentiment.polarity(bad) < 0 < other.sentiment.polarity(good)
    assert other.meta["sentiment_texts"] == 60
    assert other.meta["sentiment_auc"] > 0.9

    successor = training_of(redis, own)
    await labelled(redis, worker, successor, "c-1", [({"x": 1.0, "bias": 1.0}, True)])
    assert successor.trainer.sentiment.learned == 60, "continued from the snapshot"
    assert await successor.publish() == f"{worker.model.version}-2"
    kept = other.sentiment
    assert await other.refresh()
    assert other.sentiment is kept, "not read again: saved with the snapshot it has"
    assert other.sentiment_at == f"{worker.model.version}-1"


async def test_drift_in_the_label_stream_is_detected_and_adapted_to(
    redis: Redis, keys: Keys
) -> None:
    """Labels flow through the Redis label join and the labels' records; the concept
    flips half way."""
    own = Keys(f"t{uuid.uuid4().hex[:8]}")
    worker = learner_of(redis, own, offers=("none",))
    training = training_of(redis, own, AdaptiveEngagement(compare_window=100, patience=2000))
    examples = [
        ({"signal": float(n % 2), "bias": 1.0}, (n % 2 == 1) if n < 1500 else (n % 2 == 0))
        for n in range(3000)  # "red today, blue tomorrow"
    ]
    counters = await labelled(redis, worker, training, f"drift-{uuid.uuid4().hex[:8]}", examples)
    assert as_stats(counters).get("model_drifts", 0) >= 1
    assert (await StatsStore(redis, own).read()).get("model_drifts", 0) >= 1
    trainer = training.trainer
    assert trainer.validation.auc > 0.9, "the model follows the new concept"
    assert trainer.model.score({"signal": 0.0, "bias": 1.0}) > 0.5


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
