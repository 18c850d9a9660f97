"""Content choice: which arm (category, offer, template...) to send in a context.

Own epsilon-greedy rather than ``river.bandit``: river's policies hold one
set of arm statistics, return no propensity, and have no notion of a prior, so
per-context statistics that borrow from the global ones (cold start), bounded
exploration, discounting (tastes move) and logged propensities (for off-policy
evaluation later) would all be wrapped around them anyway. It is 100 lines.

Estimate of an arm in a context: ``(s + k * g) / (n + k)``, with ``n``, ``s`` the
context's (discounted) pulls and reward sum and ``g`` the arm's global mean, so a
new context starts with what every customer taught and never lacks an answer.
Exploration ``epsilon = max_eps * decay / (decay + n_context)`` clamped to
``[min_eps, max_eps]``: new contexts explore more, none ever stops exploring.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from stream_app.model.checkpoint import Checkpointed


@dataclass(slots=True)
class _Stats:
    pulls: float = 0.0
    reward: float = 0.0


class ContentBandit(Checkpointed):
    """Epsilon-greedy over arms per context key, with a global prior and discounting.

    >>> bandit = ContentBandit(seed=1)
    >>> for _ in range(300):
    ...     arm, p = bandit.choose("tier=vip", ["red", "blue"])
    ...     bandit.update("tier=vip", arm, 1.0 if arm == "blue" else 0.0)
    >>> bandit.choose("tier=new", ["red", "blue"])  # never seen: the global prior decides
    ('blue', 0.9)
    """

    def __init__(
        self,
        *,
        min_epsilon: float = 0.02,
        max_epsilon: float = 0.2,
        decay_pulls: float = 200.0,
        prior_strength: float = 20.0,
        discount: float = 1.0,
        seed: int = 0,
    ) -> None:
        if not 0.0 <= min_epsilon <= max_epsilon <= 1.0:
            raise ValueError("need 0 <= min_epsilon <= max_epsilon <= 1")
        if not 0.0 < discount <= 1.0 or prior_strength <= 0 or decay_pulls <= 0:
            raise ValueError("need 0 < discount <= 1, prior_strength > 0, decay_pulls > 0")
        self.min_epsilon = min_epsilon
        self.max_epsilon = max_epsilon
        self.decay_pulls = decay_pulls
        self.prior_strength = prior_strength
        self.discount = discount
        self._rng = random.Random(seed)
        self._contexts: dict[str, dict[str, _Stats]] = {}
        self._global: dict[str, _Stats] = {}

    def drawing_as(self, other: ContentBandit) -> ContentBandit:
        """This bandit's statistics exploring with ``other``'s random draws (returns self).

        A worker that loads the learner's published bandit keeps its own draws: the
        loaded ones would replay the learner's from the same point at every load, and
        every worker the same ones."""
        self._rng = other._rng
        return self

    def epsilon(self, context: str) -> float:
        """Exploration rate of ``context``: high while it is new, never outside the bounds."""
        pulls = sum(s.pulls for s in self._contexts.get(context, {}).values())
        eps = self.max_epsilon * self.decay_pulls / (self.decay_pulls + pulls)
        return min(self.max_epsilon, max(self.min_epsilon, eps))

    def estimate(self, context: str, arm: str) -> float:
        """Expected reward of ``arm`` in ``context``, shrunk toward the arm's global mean."""
        local = self._contexts.get(context, {}).get(arm, _Stats())
        k = self.prior_strength
        return (local.reward + k * self._global_mean(arm)) / (local.pulls + k)

    def choose(self, context: str, arms: Sequence[str]) -> tuple[str, float]:
        """An arm for ``context`` and the probability this policy had of choosing it."""
        if not arms:
            raise ValueError("no arms to choose from")
        eps = self.epsilon(context)
        estimates = [self.estimate(context, arm) for arm in arms]
        best = max(estimates)
        greedy = [arm for arm, value in zip(arms, estimates, strict=True) if value == best]
        explore = self._rng.random() < eps
        arm = self._rng.choice(arms if explore else greedy)
        share = (1.0 - eps) / len(greedy) if arm in greedy else 0.0
        return arm, share + eps / len(arms)

    def update(self, context: str, arm: str, reward: float) -> None:
        """Record ``reward`` (e.g. 1.0 engaged, 0.0 not) for ``arm`` shown in ``context``."""
        for table in (self._contexts.setdefault(context, {}), self._global):
            if self.discount < 1.0:
                for stats in table.values():
                    stats.pulls *= self.discount
                    stats.reward *= self.discount
            stats = table.setdefault(arm, _Stats())
            stats.pulls += 1.0
            stats.reward += reward

    def _global_mean(self, arm: str) -> float:
        """The arm's mean over all contexts, itself shrunk toward the all-arm mean."""
        pulls = sum(s.pulls for s in self._global.values())
        overall = sum(s.reward for s in self._global.values()) / pulls if pulls else 0.0
        stats = self._global.get(arm, _Stats())
        return (stats.reward + overall) / (stats.pulls + 1.0)
