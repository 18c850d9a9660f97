"""The content bandit: finds the best arm, explores within bounds, starts new contexts warm."""

from __future__ import annotations

import random

import pytest

from stream_app.model.bandit import ContentBandit

ARMS = ["shoes", "books", "toys", "home"]
RATES = {"shoes": 0.05, "books": 0.1, "toys": 0.3, "home": 0.08}


def play(bandit: ContentBandit, context: str, rounds: int, seed: int) -> list[tuple[str, float]]:
    rng = random.Random(seed)
    picks = []
    for _ in range(rounds):
        arm, propensity = bandit.choose(context, ARMS)
        bandit.update(context, arm, 1.0 if rng.random() < RATES[arm] else 0.0)
        picks.append((arm, propensity))
    return picks


def test_converges_to_the_best_arm() -> None:
    picks = play(ContentBandit(seed=1), "tier=vip", 3000, seed=2)
    late = [arm for arm, _ in picks[-1000:]]
    assert late.count("toys") / len(late) > 0.85


def test_exploration_stays_within_bounds_and_propensities_are_probabilities() -> None:
    bandit = ContentBandit(min_epsilon=0.05, max_epsilon=0.3, seed=3)
    assert bandit.epsilon("fresh") == pytest.approx(0.3)
    picks = play(bandit, "ctx", 5000, seed=4)
    assert 0.05 <= bandit.epsilon("ctx") < 0.3
    assert bandit.epsilon("ctx") == pytest.approx(0.05)
    for _, propensity in picks:
        assert 0.05 / len(ARMS) - 1e-12 <= propensity <= 1.0
    late = [arm for arm, _ in picks[-2000:]]
    # min_epsilon keeps exploring: each other arm still gets ~eps/4 of the picks.
    assert late.count("shoes") > 0


def test_cold_start_context_uses_the_global_prior() -> None:
    bandit = ContentBandit(seed=5)
    play(bandit, "tier=loyal", 2000, seed=6)
    assert bandit.estimate("tier=new", "toys") > bandit.estimate("tier=new", "shoes")
    arms = [bandit.choose("tier=new", ARMS)[0] for _ in range(200)]
    assert arms.count("toys") > 120


def test_a_new_bandit_never_refuses() -> None:
    bandit = ContentBandit(seed=7)
    arm, propensity = bandit.choose("anyone", ARMS)
    assert arm in ARMS
    assert 0.0 < propensity <= 1.0
    with pytest.raises(ValueError, match="no arms"):
        bandit.choose("anyone", [])


def test_discounting_follows_a_change_of_best_arm() -> None:
    bandit = ContentBandit(discount=0.995, seed=8)
    play(bandit, "ctx", 2000, seed=9)
    RATES_AFTER = {"shoes": 0.4, "books": 0.1, "toys": 0.02, "home": 0.08}
    rng = random.Random(10)
    picks = []
    for _ in range(2000):
        arm, _ = bandit.choose("ctx", ARMS)
        bandit.update("ctx", arm, 1.0 if rng.random() < RATES_AFTER[arm] else 0.0)
        picks.append(arm)
    assert picks[-500:].count("shoes") > 400


def test_checkpoint_round_trip_continues_identically() -> None:
    bandit = ContentBandit(seed=11)
    play(bandit, "ctx", 300, seed=12)
    copy = ContentBandit.from_bytes(bandit.to_bytes())
    assert [bandit.choose("ctx", ARMS) for _ in range(20)] == [
        copy.choose("ctx", ARMS) for _ in range(20)
    ]
