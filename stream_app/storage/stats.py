"""Engine-wide counters in one Redis hash, shared by all workers (demo, operators)."""

from __future__ import annotations

from collections.abc import Mapping

from stream_app.counts import Counts
from stream_app.storage.client import RedisClient
from stream_app.storage.commit import Writes
from stream_app.storage.layout import Keys
from stream_app.storage.statfields import as_stats, parse_stat_name


class StatsStore:
    """Engine-wide counters shared by all workers (for the demo and operators)."""

    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    def add(self, writes: Writes, counts: Counts) -> None:
        """Count ``counts`` with the pass's other writes (so a replayed batch whose
        writes were lost is counted once, when it is written)."""
        key = self._keys.stats()
        for name, n in as_stats(counts).items():
            writes.add("HINCRBY", key, name, n)

    async def increment(self, counts: Counts) -> None:
        """Count ``counts`` now, on their own (work outside a pass: the learner's)."""
        stats = as_stats(counts)
        if stats:
            pipe = self._client.pipeline(transaction=False)
            for name, n in stats.items():
                pipe.hincrby(self._keys.stats(), name, n)
            await pipe.execute()

    async def read(self) -> dict[str, int]:
        raw = await self._client.hgetall(self._keys.stats())
        return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}


def by_reason(counters: Mapping[str, int], name: str) -> dict[str, int]:
    """``<name>:<reason>`` counters by reason; the finer ``<name>:<campaign>:<reason>``
    ones are parts of those, so they are left out.

    >>> by_reason({"dead_letters:oversized": 2, "x": 1}, "dead_letters")
    {'oversized': 2}
    >>> by_reason({"decisions_suppressed:cap_day": 4,
    ...            "decisions_suppressed:cart:cap_day": 4}, "decisions_suppressed")
    {'cap_day': 4}
    """
    found = {}
    for field, n in counters.items():
        counter, labels = parse_stat_name(field)
        if counter == name and len(labels) == 1:
            found[labels[0]] = n
    return dict(sorted(found.items()))
