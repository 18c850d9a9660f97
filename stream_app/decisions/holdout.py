"""Holdout assignment: which customers a campaign deliberately leaves alone.

The assignment must be a pure function of the ids: every worker, replay and
report must agree on it without sharing state, so it hashes the ids with
BLAKE2b (stable across processes and Python versions, unlike ``hash()``).
The campaign id is part of the hash, so a customer held out of one campaign
is not systematically held out of the others; ``salt`` re-draws the groups,
e.g. for a new test period.
"""

from __future__ import annotations

import hashlib

_SCALE = float(1 << 64)


def bucket(customer_id: str, campaign_id: str, salt: str = "") -> float:
    """The customer's uniform draw in [0, 1) for this campaign.

    >>> bucket("c-1", "cart_abandonment")
    0.6413...
    """
    key = f"{salt}|{campaign_id}|{customer_id}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def in_holdout(customer_id: str, campaign_id: str, share: float, salt: str = "") -> bool:
    """Whether the customer is in the campaign's holdout of the given ``share``.

    Growing the share only adds customers to the holdout (a draw below 60 % is
    also below 65 %), so raising it never moves anyone out.

    >>> in_holdout("c-1", "cart_abandonment", 0.65), in_holdout("c-1", "cart_abandonment", 0.60)
    (True, False)
    >>> in_holdout("c-1", "cart_abandonment", 0.0), in_holdout("c-1", "cart_abandonment", 1.0)
    (False, True)
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"holdout share must be in [0, 1], got {share}")
    return bucket(customer_id, campaign_id, salt) < share
