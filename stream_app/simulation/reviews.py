"""What simulated customers write, drawn from a polarity the simulation knows (the truth).

Interface stub of issue 19: ``remark`` is what the world generator calls; the
messy texts (negation, mixed feelings, typos, personal data) fill it in.
"""

from __future__ import annotations

import random

_GOOD = ("love it", "great quality", "fast delivery", "perfect fit")
_BAD = ("late delivery again", "arrived broken", "terrible service", "never again")


def remark(rng: random.Random, polarity: float, rated: bool) -> tuple[str, int | None]:
    """A text whose true sentiment is ``polarity`` (-1 to +1), and its star rating when
    ``rated`` (None otherwise).

    >>> text, stars = remark(random.Random(1), -0.9, rated=True)
    >>> stars is not None and stars <= 2
    True
    """
    text = rng.choice(_GOOD if polarity >= 0 else _BAD)
    if not rated:
        return text, None
    return text, max(1, min(5, round(3 + 2 * polarity)))
