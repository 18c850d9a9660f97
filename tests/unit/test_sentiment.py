"""The sentiment model's pieces: scrubbing and tokens, the blend, its bounds, simulated texts."""

from __future__ import annotations

import random
import re

import pytest

from stream_app.model import sentiment
from stream_app.model.sentiment import SentimentModel, prior, rating_label, tokens
from stream_app.model.text import MAX_TOKENS, scrub
from stream_app.simulation.reviews import remark, stars, truth


def simulated(n: int, seed: int, rated: bool) -> list[tuple[str, int | None, float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        polarity = truth(rng)
        text, given = remark(rng, polarity, rated)
        out.append((text, given, polarity))
    return out


def test_personal_data_never_reaches_the_tokens() -> None:
    text = (
        "Order #A7781234 and 99812345: mail me at ann.lee+x@mail.example.co.uk, "
        "call (020) 7946-0958 or +1 415 555 0100, card 4111 1111 1111 1111, "
        "see https://t.co/abc?u=ann or www.shop.com/orders/123, ping @ann_lee"
    )
    toks = tokens(text)
    leaks = ("ann", "lee", "example", "http", "www", "t.co", "shop", "@")
    assert not [t for t in toks if re.search(r"\d", t) or any(x in t for x in leaks)], toks
    assert {"<number>", "<email>", "<phone>", "<url>", "<user>"} <= set(toks)
    assert "ann.lee" not in scrub(text)
    assert "4111" not in scrub(text)


def test_negation_marks_the_words_it_governs_until_punctuation_or_a_contrast() -> None:
    assert tokens("not good, fine") == ("not", "neg_good", "fine")
    assert tokens("dont like it but love the bag") == (
        "dont", "neg_like", "neg_it", "but", "love", "the", "bag",
    )  # fmt: skip
    assert tokens("never ever ever ever again")[-1] == "again", "a scope of three words"
    assert tokens("no complaints :D 😍") == ("no", "neg_complaints", ":D", "😍")


def test_tokens_are_bounded() -> None:
    assert len(tokens("word " * 5000)) == MAX_TOKENS


def test_the_simulated_texts_carry_personal_data_that_is_scrubbed() -> None:
    texts = [text for text, _, _ in simulated(600, seed=4, rated=False)]
    assert sum(bool(re.search(r"\d{4}|@", t)) for t in texts) > 60
    for text in texts:
        assert not [t for t in tokens(text) if re.search(r"\d|@", t) and t != "<3"], text


def test_the_simulated_texts_are_messy_and_their_ratings_noisy() -> None:
    rows = simulated(2000, seed=5, rated=True)
    texts = [t for t, _, _ in rows]
    assert sum(" but " in t for t in texts) > 50, "mixed feelings"
    assert sum(any(x.startswith("neg_") for x in tokens(t)) for t in texts) > 200, "negation"
    assert sum(t.isupper() for t in texts) > 50, "shouting"
    assert sum(given == 3 for _, given, _ in rows) > 100, "neutral ratings"
    contrary = [(g, p) for _, g, p in rows if g is not None and (g >= 4) == (p < -0.5)]
    assert contrary, "a few ratings contradict the text"
    assert simulated(50, seed=5, rated=True) == rows[:50], "deterministic for an rng"
    assert stars(random.Random(0), 1.0) == 5


def test_the_prior_alone_scores_before_any_rated_text() -> None:
    model = SentimentModel()
    toks = tokens("absolutely love it, great quality")
    assert model.weight == 0.0
    assert model.polarity(toks) == prior(toks) > 0.5
    assert model.polarity(()) == 0.0


def test_the_learned_model_overtakes_the_prior_on_the_shops_own_words() -> None:
    """ "parcel" and "refund" mean nothing to the lexicon: rated texts teach them."""
    model = SentimentModel(prior_weight=10)
    for i in range(100):
        model.learn(tokens(f"still waiting for the parcel {i}"), positive=False)
        model.learn(tokens("parcel came on monday"), positive=True)
    assert model.weight == pytest.approx(200 / 210)
    assert prior(tokens("still waiting for the parcel")) == 0.0
    assert model.polarity(tokens("still waiting for the parcel")) < -0.5
    assert model.polarity(tokens("parcel came")) > 0.5


def test_learned_blend_beats_the_lexicon_on_simulated_comments() -> None:
    from bench.learning import auc

    np = pytest.importorskip("numpy")
    model = SentimentModel()
    for text, given, _ in simulated(400, seed=6, rated=True):
        label = rating_label(given or 3)
        if label is not None:
            model.learn(tokens(text), label)
    held_out = simulated(300, seed=7, rated=False)
    truths = np.array([p > 0 for _, _, p in held_out])
    toks = [tokens(t) for t, _, _ in held_out]
    blend = auc(np.array([model.polarity(t) for t in toks]), truths)
    lexicon = auc(np.array([prior(t) for t in toks]), truths)
    assert blend > max(lexicon, 0.85)


def test_each_text_is_learned_once_within_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sentiment, "SEEN", 3)
    model = SentimentModel()
    assert model.learn_once("e-1", ("good",), True)
    assert not model.learn_once("e-1", ("good",), True), "a redelivered event"
    for i in range(2, 5):
        assert model.learn_once(f"e-{i}", ("bad",), False)
    assert model.learned == 4
    assert model.learn_once("e-1", ("good",), True), "out of the window: the oldest is forgotten"


def test_the_vocabulary_is_capped() -> None:
    model = SentimentModel(max_features=50)
    for i in range(100):
        model.learn((f"w{i}", "good"), positive=i % 2 == 0)
    assert len(model._vocabulary) == 50
    assert model.learned == 100
    assert model.learned_polarity(("w99",)) == 0.0, "a word met past the cap is not learned"
