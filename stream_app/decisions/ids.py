"""Deterministic decision ids: the same trigger always yields the same id (dedupe)."""

from __future__ import annotations

import hashlib


def decision_id(campaign_id: str, customer_id: str, trigger: str) -> str:
    """Id of the decision a campaign makes for a customer on one trigger.

    >>> decision_id("cart", "c1", "e1") == decision_id("cart", "c1", "e1")
    True
    >>> decision_id("cart", "c1", "e1") != decision_id("cart", "c1", "e2")
    True
    """
    digest = hashlib.sha256(f"{campaign_id}\x1f{customer_id}\x1f{trigger}".encode()).hexdigest()
    return f"dec-{digest[:24]}"
