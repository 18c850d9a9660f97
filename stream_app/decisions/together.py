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
cost is linear in the lines.

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
#: Order ids remembered per item to count an order once when a pass is retried.
ORDERS_KEPT = 64


def _rank(order_id: str, member: str) -> bytes:
    return hashlib.blake2b(f"{order_id}\x00{member}".encode(), digest_size=8).digest()


def pairs(order_id: str, members: Sequence[str], sampled: int = SAMPLED) -> dict[str, list[str]]:
    """Each distinct member of an order -> the partners it is counted with (see the
    module's docstring): all others, or ``sampled`` of them (rounded down to even).

    >>> pairs("o-1", ["a", "b", "c", "a"])
    {'a': ['b', 'c'], 'b': ['a', 'c'], 'c': ['a', 'b']}
    >>> big = pairs("o-2", [f"i{n}" for n in range(101)], sampled=4)
    >>> {len(partners) for partners in big.values()}
    {4}
    """
    unique = sorted(set(members))
    n = len(unique)
    half = sampled // 2
    if n <= 2 * half + 1:
        return {a: [b for b in unique if b != a] for a in unique}
    order = sorted(unique, key=lambda member: _rank(order_id, member))
    return {
        a: [order[(i + step) % n] for offset in range(1, half + 1) for step in (-offset, offset)]
        for i, a in enumerate(order)
    }
