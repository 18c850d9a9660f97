"""The funnel and cohort counters (``Keys.funnel``; docs/reports.md): added to in a
pass's commit, read whole by the reports.

A customer's counts change in the same script as their profile (``Effects``): on a
single Redis that is the batch's one commit; on a Redis Cluster a script touches one
slot, so the counters are cut by slot, each customer's in a hash of their own slot
(tagged ``{f<n>}``, the first such tag in it). A failed guard or a replay then never
counts a customer twice, and no write crosses slots; a report reads every slot's hash.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from functools import cache

from stream_app.storage.client import RedisClient, is_cluster
from stream_app.storage.commit import Writes
from stream_app.storage.layout import Keys
from stream_app.storage.slots import SLOTS, key_slot


@cache
def slot_tags() -> tuple[str, ...]:
    """For every hash slot, the first tag ``f<n>`` that falls in it (computed once, ~0.1 s).

    >>> tags = slot_tags()
    >>> len(tags), key_slot(tags[42]) == 42
    (16384, True)
    """
    tags: list[str | None] = [None] * SLOTS
    left, n = SLOTS, 0
    while left:
        tag = f"f{n}"
        slot = key_slot(tag)
        if tags[slot] is None:
            tags[slot] = tag
            left -= 1
        n += 1
    return tuple(str(tag) for tag in tags)


class FunnelStore:
    """Counts customers per cohort, source and stage (``decisions.funnel``)."""

    def __init__(self, client: RedisClient, keys: Keys, period: str) -> None:
        self._client = client
        self._keys = keys
        self._period = period
        self._cluster = is_cluster(client)

    def key(self, customer_id: str) -> str:
        """The hash counting ``customer_id``: the one hash, or their slot's on a cluster."""
        if not self._cluster:
            return self._keys.funnel(self._period)
        return self._keys.funnel(self._period, slot_tags()[key_slot(customer_id)])

    def count(self, writes: Writes, customer_id: str, changes: Mapping[str, int]) -> None:
        """Add ``changes`` (cell -> +1 / -1) with the customer's other writes."""
        key = self.key(customer_id)
        for cell, n in changes.items():
            if n:
                writes.add("HINCRBY", key, cell, n)

    async def read(self) -> dict[str, int]:
        """Every cell's count (summed over the slots' hashes on a cluster), zeros left out."""
        if not self._cluster:
            keys = [self._keys.funnel(self._period)]
        else:
            keys = [self._keys.funnel(self._period, tag) for tag in slot_tags()]
        total: Counter[str] = Counter()
        for start in range(0, len(keys), 1024):
            pipe = self._client.pipeline(transaction=False)
            for key in keys[start : start + 1024]:
                pipe.hgetall(key)
            for found in await pipe.execute():
                for name, n in found.items():
                    total[name.decode() if isinstance(name, bytes) else name] += int(n)
        return {name: n for name, n in sorted(total.items()) if n}
