"""One shared model: the trainer's versions and label counts, labels on their way to it.

No servers: the trainer is pure, and the worker's side is checked up to the records
it hands to publishing (the stores are not touched).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from stream_app.counts import Plain
from stream_app.events.labels import Label, Labels, TextLabel
from stream_app.model.bandit import ContentBandit
from stream_app.model.drift import AdaptiveEngagement
from stream_app.model.quality import ProgressiveValidation
from stream_app.model.sentiment import SentimentModel, tokens
from stream_app.model.shared import FROM, Trainer, version_number
from stream_app.storage.scoring import Scored, Snapshot
from stream_app.streaming.learning import LABELS_PER_RECORD, Learner


def trainer() -> Trainer:
    return Trainer(AdaptiveEngagement(), ContentBandit(seed=1), ProgressiveValidation(10))


def label(n: int, origin: str = "w-1", engaged: bool = False) -> Label:
    return Label(
        decision_id=f"d-{n}",
        features={"x": float(n % 3), "bias": 1.0},
        engaged=engaged,
        context="tier=new",
        arm="none",
        origin=origin,
    )


def test_a_snapshot_is_published_only_after_learning_and_its_number_only_grows() -> None:
    t = trainer()
    assert t.publish() is None, "nothing learned: nothing to publish"
    t.learn([label(1)])
    first = t.publish()
    assert first == f"{t.model.version}-1"
    assert t.publish() is None
    t.learn([label(2, engaged=True)])
    second = t.publish()
    assert second is not None
    assert version_number(second) == version_number(first) + 1


def test_a_trainer_continues_from_an_adopted_snapshot() -> None:
    """After a failover the new learner numbers on from the published snapshot and keeps
    its per-worker label counts."""
    t = trainer()
    t.adopt(AdaptiveEngagement(), ContentBandit(), "lr-g1-41", {f"{FROM}w-1": 7.0, "auc": 0.7})
    assert not t.dirty
    t.learn([label(1, "w-2")])
    assert t.publish() == "lr-g1-42"
    meta = t.meta()
    assert meta[f"{FROM}w-1"] == 7.0
    assert meta[f"{FROM}w-2"] == 1.0
    assert {"auc", "log_loss", "labels", "drifts", "bandit_reward_rate"} <= set(meta)


def test_label_counts_are_kept_for_the_latest_workers_only() -> None:
    t = trainer()
    t.max_origins = 2
    t.learn([label(1, "old"), label(2, "mid"), label(3, "new"), label(4, "mid")])
    assert set(t.origins) == {"mid", "new"}
    assert t.origins["mid"] == 2


def test_a_learning_fault_is_counted_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    t = trainer()
    learn = t.model.learn

    def fragile(x: Mapping[str, float], y: bool) -> object:
        if x.get("x") == 2.0:
            raise ValueError("a fault in the learner")
        return learn(x, y)

    monkeypatch.setattr(t.model, "learn", fragile)
    counters = t.learn([label(1), label(2), label(3)])
    assert counters[Plain("learning_errors")] == 1
    assert t.model.learned == 2


class Taken:
    """Hands out the scored decisions asked for, as the Redis store would (once)."""

    async def take(self, pairs: Sequence[tuple[str, str]]) -> list[Scored | None]:
        return [Scored(c, d, {"x": 1.0}, "lr-g1-3", 0.5, "tier=new", "none") for c, d in pairs]


async def retry_now(call):  # type: ignore[no-untyped-def]
    return await call()


def learner() -> Learner:
    return Learner(
        model=AdaptiveEngagement(),
        bandit=ContentBandit(),
        offers=("none",),
        scoring=Taken(),  # type: ignore[arg-type]
        models=None,  # type: ignore[arg-type]
        retry=retry_now,  # type: ignore[arg-type]
        topic="model.labels",
        origin="w-1",
    )


async def test_labels_are_sent_to_the_learner_in_few_records_not_learned_here() -> None:
    worker = learner()
    assert worker.version == f"{worker.model.version}-0", "a version before any snapshot"
    n = LABELS_PER_RECORD + 5
    counters = await worker.label([("c-1", f"d-{i}") for i in range(n)], engaged=True)
    assert counters[Plain("labels_positive")] == n
    assert worker.model.learned == 0, "workers only score; the one learner learns"
    records = worker.outbound()
    assert [r.topic for r in records] == ["model.labels", "model.labels"]
    sent = [x for r in records for x in Labels.model_validate_json(r.value).labels]
    assert [x.decision_id for x in sent] == [f"d-{i}" for i in range(n)]
    assert all(x.engaged and x.origin == "w-1" and x.arm == "none" for x in sent)
    assert worker.outbound() == [], "each label is sent once"


def test_a_loaded_bandit_explores_with_the_workers_own_draws() -> None:
    """Loading the learner's bandit at every snapshot must not replay its draws."""
    published = ContentBandit(seed=1, min_epsilon=0.5, max_epsilon=0.5).to_bytes()
    mine = ContentBandit(seed=2)

    def draws(bandit: ContentBandit) -> list[str]:
        return [bandit.choose("tier=new", ["a", "b", "c"])[0] for _ in range(20)]

    first = draws(ContentBandit.from_bytes(published).drawing_as(mine))
    again = draws(ContentBandit.from_bytes(published).drawing_as(mine))
    assert first != again, "each load goes on with the worker's own draws"


async def test_a_label_json_cannot_carry_is_counted_not_sent() -> None:
    """A NaN feature would come out of JSON as null and spoil its whole record."""

    class Odd(Taken):
        async def take(self, pairs: Sequence[tuple[str, str]]) -> list[Scored | None]:
            return [Scored("c-1", "d-1", {"x": float("nan")}, "v", 0.5), *await super().take(pairs)]

    worker = learner()
    worker.scoring = Odd()  # type: ignore[assignment]
    counters = await worker.label([("c-1", "d-2")], engaged=False)
    assert counters[Plain("learning_errors")] == 1
    assert counters[Plain("labels_negative")] == 1
    [record] = worker.outbound()
    assert [x.decision_id for x in Labels.model_validate_json(record.value).labels] == ["d-2"]


def text(n: int, positive: bool) -> TextLabel:
    words = "parcel came early, lovely" if positive else "parcel never came, refund please"
    return TextLabel(event_id=f"r-{n}", tokens=list(tokens(words)), positive=positive)


def test_rated_texts_are_learned_once_and_published_with_their_figures() -> None:
    t = trainer()
    texts = [text(n, n % 2 == 0) for n in range(40)]
    counters = t.learn_texts([*texts, texts[3]])
    assert counters[Plain("texts_learned")] == 40
    assert counters[Plain("texts_repeated")] == 1, "a redelivered review is not learned again"
    assert t.sentiment.learned == 40
    assert t.publish() is not None, "texts alone make a snapshot"
    meta = t.meta()
    assert meta["sentiment_texts"] == 40.0
    assert meta["sentiment_auc"] > 0.9, "progressive validation: scored before learned"
    assert 0 < meta["sentiment_weight"] < 1
    blob = t.sentiment_blob()
    assert blob is not None
    assert SentimentModel.from_bytes(blob).learned == 40
    assert t.sentiment_blob() is None, "nothing learned since: the published one holds"
    t.learn([label(1)])
    assert t.publish() is not None
    assert t.sentiment_blob() is None, "engagement labels alone do not resave it"


def test_the_sentiment_model_is_saved_at_most_every_few_snapshots() -> None:
    t = trainer()
    t.sentiment_every = 3
    saved = []
    for n in range(7):
        t.learn_texts([text(n, positive=True)])
        saved.append(t.sentiment_blob() is not None)
    assert saved == [True, False, False, True, False, False, True]
    t.learn_texts([text(99, positive=False)])
    t.sentiment_unsaved()  # that snapshot was not written
    assert t.sentiment_blob() is not None, "saved with the next one"


def test_a_trainer_continues_the_adopted_sentiment_model_or_a_new_one() -> None:
    t = trainer()
    published = SentimentModel()
    published.learn(("good",), True)
    t.adopt(AdaptiveEngagement(), ContentBandit(), "lr-g1-4", {}, published)
    assert t.sentiment is published
    t.adopt(AdaptiveEngagement(), ContentBandit(), "lr-g1-5", {})
    assert t.sentiment.learned == 0, "an older snapshot without one: the prior alone"


def test_a_worker_scores_with_the_prior_until_a_snapshot_brings_the_learned_model() -> None:
    worker = learner()
    assert worker.sentiment.learned == 0
    assert worker.sentiment.weight == 0.0
    toks = tokens("the parcel never came")
    before = worker.sentiment.polarity(toks)
    learned = SentimentModel()
    for _n in range(200):
        learned.learn(toks, False)
        learned.learn(tokens("parcel came"), True)
    blob = AdaptiveEngagement().to_bytes()
    worker._adopt(Snapshot("lr-g1-2", blob, None, {}, learned.to_bytes(), "lr-g1-2"))
    assert worker.sentiment.learned == 400
    assert worker.sentiment_at == "lr-g1-2"
    assert worker.sentiment.polarity(toks) < min(before, -0.5)
    kept = worker.sentiment
    worker._adopt(Snapshot("lr-g1-3", blob, None, {}, None, "lr-g1-2"))
    assert worker.sentiment is kept, "saved with an earlier snapshot: the one at hand"
    worker._adopt(Snapshot("lr-g1-4", blob, None, {}))
    assert worker.sentiment.learned == 0, "a snapshot without one: the prior"


def test_rated_texts_travel_as_tokens_in_their_own_records() -> None:
    worker = learner()
    for n in range(LABELS_PER_RECORD + 1):
        worker.queue_text(f"r-{n}", tokens("late again, call 0207 946 0958"), positive=False)
    records = [Labels.model_validate_json(r.value) for r in worker.outbound()]
    assert [len(r.texts) for r in records] == [LABELS_PER_RECORD, 1]
    assert records[0].texts[0].tokens == ["late", "again", "call", "<phone>"]
