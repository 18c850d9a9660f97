"""Checkpoints of the learners: the whole object pickled, loaded back as its own class."""

from __future__ import annotations

import pickle
from typing import Self


class Checkpointed:
    """A learner (engagement model, its drift wrapper, the bandit) that checkpoints as a
    pickle of itself: the worker saves ``to_bytes`` to its own store and loads it back
    with ``from_bytes`` of the same class."""

    def to_bytes(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Load a checkpoint; only ever from our own store (pickle runs code)."""
        loaded = pickle.loads(data)  # noqa: S301 - our own checkpoints only
        if not isinstance(loaded, cls):
            raise TypeError(f"not a {cls.__name__} checkpoint")
        return loaded
