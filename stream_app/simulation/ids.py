"""Ids the simulated world mints, drawn from the generator's random source (so a run
is reproducible for a seed)."""

from __future__ import annotations

import random


def event_id(rng: random.Random) -> str:
    return f"ev-{rng.getrandbits(64):016x}"
