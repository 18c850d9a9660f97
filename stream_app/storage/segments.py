"""Segment membership in Redis: a short string per customer and a set per segment.

A customer's own list is a comma-joined string, not a set: RedisClient 6.2 keeps a
set of strings as a hashtable (~350 bytes for three names), a string costs
the bytes of the names.
"""

from __future__ import annotations

from collections.abc import Sequence

from stream_app.decisions.evaluation import MembershipChange
from stream_app.storage.client import RedisClient
from stream_app.storage.commit import Writes
from stream_app.storage.layout import Keys, memberships_value, parse_memberships


class SegmentStore:
    def __init__(self, client: RedisClient, keys: Keys, *, profile_ttl_s: int) -> None:
        self._client = client
        self._keys = keys
        self._ttl_s = profile_ttl_s

    async def memberships(self, customer_ids: Sequence[str]) -> list[set[str]]:
        """The segments each customer is currently recorded in."""
        pipe = self._client.pipeline(transaction=False)
        for cid in customer_ids:
            pipe.get(self._keys.memberships(cid))
        return [
            parse_memberships(found.decode()) if found else set() for found in await pipe.execute()
        ]

    def record(self, writes: Writes, changes: Sequence[MembershipChange]) -> None:
        """Write membership changes (idempotent set operations)."""
        keys = self._keys
        for change in changes:
            own = keys.memberships(change.customer_id)
            if change.members:
                writes.add("SET", own, memberships_value(change.members), "EX", self._ttl_s)
            else:
                writes.add("DEL", own)
            for name in sorted(change.entered):
                writes.add("SADD", keys.segment(name), change.customer_id)
            for name in sorted(change.exited):
                writes.add("SREM", keys.segment(name), change.customer_id)

    async def sizes(self, names: Sequence[str]) -> dict[str, int]:
        pipe = self._client.pipeline(transaction=False)
        for name in names:
            pipe.scard(self._keys.segment(name))
        return {name: int(n) for name, n in zip(names, await pipe.execute(), strict=True)}

    async def members_page(self, name: str, cursor: int, count: int) -> tuple[int, list[str]]:
        """One SSCAN step over a segment: the next cursor (0 = done) and some members.

        SSCAN, not SMEMBERS, so a segment of millions is read in pages without
        blocking Redis; ``count`` is a hint (small sets come back whole), and a member
        present for the whole scan is returned at least once.
        """
        after, members = await self._client.sscan(self._keys.segment(name), cursor, count=count)
        return int(after), sorted(m.decode() if isinstance(m, bytes) else m for m in members)
