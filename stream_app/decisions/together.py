""" "Frequently bought together" that scales: which co-purchases one order adds. Pure.

Counting every pair of an order costs the square of its lines (a 500-line order has
249,500 pairs). Instead each item of an order is paired with at most ``SAMPLED`` others:
the order's items are put in a pseudo-random order (a hash of the order id and the item,
so a retried pass draws the same), and each item is paired with the ``SAMPLED / 2``
items on either side of it, cyclically. A given pair of an order of ``n`` items is then
drawn with probability ``min(1, SAMPLED / (n - 1))`` (the other item's offset is
uniform); a drawn pair counts 1. Orders of up to ``SAMPLED + 1`` distinct items are
counted exactly; a larger order counts as ``SAMPLED / (n - 1)`` of an order, in
expectation (a 500-line invoice says less about what goes together than a 3-line
basket, and weighting its draws up instead makes single draws outweigh real partners).
The draws are symmetric (``a`` counts ``b`` exactly when ``b`` counts ``a``), and the
cost is linear in the lines; beyond 500 items each draws fewer (``drawn_per_member``),
so no order draws more than a 500-item one (each item still counts).

Per item, the store keeps the ``KEPT`` most counted partners by Space-Saving (an order's
newcomers to a full set replace as many of the least counted partners, inheriting their
counts): docs/redis-keys.md states the resulting error bound.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

#: Partners drawn per item of an order (even); orders up to ``SAMPLED + 1`` items are exact.
SAMPLED = 32
#: Partners kept per item (Space-Saving capacity): the most Redis keeps compact.
KEPT = 128
#: Partners drawn per order at most: beyond 500 items, each draws fewer (at least 2).
DRAWS_PER_ORDER = 500 * SAMPLED


def _shuffled(order_id: str, members: Sequence[str]) -> list[str]:
    """``members`` by the BLAKE2b of ``order_id``, a NUL and the member (the order id's
    state hashed once, copied per member: a 5,000-line invoice has 5,000 to rank)."""
    base = hashlib.blake2b(f"{order_id}\x00".encode(), digest_size=8)

    def rank(member: str) -> bytes:
        digest = base.copy()
        digest.update(member.encode())
        return digest.digest()

    return sorted(members, key=rank)


def drawn_per_member(n: int, sampled: int = SAMPLED) -> int:
    """How many partners each of ``n`` distinct members draws: all others up to
    ``sampled`` (rounded down to even); fewer in orders of more than 500 members, so an
    order draws at most ``DRAWS_PER_ORDER`` (a 5,000-line invoice: 2 each).

    >>> drawn_per_member(3), drawn_per_member(34), drawn_per_member(1000), drawn_per_member(5000)
    (2, 32, 16, 2)
    """
    budget = max(2, min(sampled, DRAWS_PER_ORDER // max(n, 1))) // 2 * 2
    return min(n - 1, budget)


def pairs(order_id: str, members: Sequence[str], sampled: int = SAMPLED) -> dict[str, list[str]]:
    """Each distinct member of an order -> the partners it is counted with (see the
    module's docstring): all others, or ``drawn_per_member`` of them.

    >>> pairs("o-1", ["a", "b", "c", "a"])
    {'a': ['b', 'c'], 'b': ['a', 'c'], 'c': ['a', 'b']}
    >>> big = pairs("o-2", [f"i{n}" for n in range(101)], sampled=4)
    >>> {len(partners) for partners in big.values()}
    {4}
    """
    unique = sorted(set(members))
    n = len(unique)
    drawn = drawn_per_member(n, sampled)
    if drawn == n - 1:
        return {a: [b for b in unique if b != a] for a in unique}
    order = _shuffled(order_id, unique)
    half = drawn // 2
    ring = order[-half:] + order + order[:half]  # member i of order is ring[i + half]
    return {a: ring[i : i + half] + ring[i + half + 1 : i + drawn + 1] for i, a in enumerate(order)}
