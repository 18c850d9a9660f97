"""Sentiment benchmark: does the learned text model beat the lexicon on comments nobody rated?

Offline and seeded (no servers, ~1 min). ``--rated`` simulated reviews with stars
(``simulation.reviews``: negation, mixed feelings, typos, slang, sarcasm, personal
data, noisy ratings) are learned in stream order, the neutral 3-star ones
skipped as the worker skips them. Then ``--comments`` held-out simulated
comments (no rating; the truth is the polarity the simulation wrote them from)
are scored:

* ``sentiment.auc``: the model (lexicon prior blended with the learned model)
  after all rated texts, target >= 0.85;
* ``sentiment.auc_prior_only``: the lexicon alone (VADER), which the blend must beat;
* ``sentiment.auc_learned_only``: the learned model without the prior;
* a learning curve (AUC after n rated texts, the prior as a line):
  ``bench/results/sentiment_curve.png``;
* ``sentiment.score_us``: tokens + polarity per comment (what the pass pays), beside
  ``sentiment.tokens_us`` (the tokenizer alone, the baseline) and
  ``sentiment.prior_us`` (tokens + lexicon alone);
* ``sentiment.checkpoint_bytes``: the learned model's pickle.

    python -m bench.sentiment [--rated 3000 --comments 2000 --seed 19]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence

import numpy as np

from bench.common import finish, pyplot, save_figure
from bench.learning import auc
from stream_app.model.sentiment import SentimentModel, prior, rating_label, tokens
from stream_app.simulation.reviews import remark, truth

Texts = list[tuple[tuple[str, ...], bool]]


def rated(n: int, seed: int) -> Texts:
    """``n`` rated reviews as the learner gets them: tokens and what the stars say."""
    rng = random.Random(seed)
    out: Texts = []
    for _ in range(n):
        text, stars = remark(rng, truth(rng), rated=True)
        label = None if stars is None else rating_label(stars)
        if label is not None:
            out.append((tokens(text), label))
    return out


def comments(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """``n`` unrated comments and whether each was meant positively (the truth)."""
    rng = random.Random(seed)
    texts, truths = [], []
    for _ in range(n):
        polarity = truth(rng)
        texts.append(remark(rng, polarity, rated=False)[0])
        truths.append(polarity > 0)
    return texts, np.array(truths)


def score_auc(
    score: Callable[[tuple[str, ...]], float], toks: Sequence[tuple[str, ...]], truths: np.ndarray
) -> float:
    return auc(np.array([score(t) for t in toks]), truths)


def per_text_us(fn: Callable[[str], object], texts: Sequence[str], repeat: int = 3) -> float:
    """Best of ``repeat`` passes over ``texts``, in CPU microseconds per text (CPU time:
    the machine's other processes do not count)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for text in texts:
            fn(text)
        best = min(best, time.process_time() - started)
    return best / len(texts) * 1e6


def curve_points(total: int) -> list[int]:
    points, n = [0], 10
    while n < total:
        points.append(n)
        n *= 2
    return [*points, total]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rated", type=int, default=3000, help="rated reviews generated")
    parser.add_argument("--comments", type=int, default=2000, help="held-out comments")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--no-write", action="store_true", help="print, do not merge results")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    train = rated(args.rated, args.seed)
    texts, truths = comments(args.comments, args.seed + 1)
    toks = [tokens(text) for text in texts]
    prior_auc = score_auc(prior, toks, truths)

    model = SentimentModel()
    curve: list[tuple[int, float, float]] = []
    points = curve_points(len(train))
    for i, (words, positive) in enumerate(train, start=1):
        model.learn(words, positive)
        if i in points:
            curve.append(
                (
                    i,
                    score_auc(model.polarity, toks, truths),
                    score_auc(model.learned_polarity, toks, truths),
                )
            )
            print(
                f"  after {i:5d} rated texts: AUC {curve[-1][1]:.3f} "
                f"(learned alone {curve[-1][2]:.3f})"
            )
    final = curve[-1]

    results = {
        "sentiment.auc": round(final[1], 4),
        "sentiment.auc_prior_only": round(prior_auc, 4),
        "sentiment.auc_learned_only": round(final[2], 4),
        "sentiment.rated_texts": len(train),
        "sentiment.comments": len(texts),
        "sentiment.score_us": round(per_text_us(lambda t: model.polarity(tokens(t)), texts), 1),
        "sentiment.tokens_us": round(per_text_us(tokens, texts), 1),
        "sentiment.prior_us": round(per_text_us(lambda t: prior(tokens(t)), texts), 1),
        "sentiment.checkpoint_bytes": len(model.to_bytes()),
    }
    for key, value in results.items():
        print(f"{key} = {value}")
    plot = _plot(curve, prior_auc)
    return finish(results, [plot], write=not args.no_write, started=started)


def _plot(curve: Sequence[tuple[int, float, float]], prior_auc: float) -> object:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = [max(n, 1) for n, _, _ in curve]
    ax.plot(xs, [a for _, a, _ in curve], marker="o", label="model (prior + learned)")
    ax.plot(xs, [b for _, _, b in curve], marker=".", linestyle=":", label="learned alone")
    ax.axhline(prior_auc, color="grey", linestyle="--", label="lexicon prior (VADER)")
    ax.axhline(0.85, color="red", linewidth=0.8, label="target 0.85")
    ax.set_xscale("log")
    ax.set_xlabel("rated texts learned")
    ax.set_ylabel("ROC AUC on held-out comments")
    ax.set_title("Sentiment: learning curve")
    ax.legend(loc="lower right")
    return save_figure(fig, "sentiment_curve")


if __name__ == "__main__":
    raise SystemExit(main())
