"""Each customer's capped log of decisions and suppressions (``Keys.decision_log``).

A sorted set in the customer's slot (one hash tag with their other keys, so it commits
with them on a Redis Cluster): score = when (ms), member = the entry as compact JSON,
decided by the entry alone (the same entry written twice is one member: a pass retried
after a failed commit adds nothing). A redelivered event plans nothing again (its
decision ids are known, ``storage.customers``) and a replayed send check finds no
pending decision, so no entry is made twice. Appends ride in the pass's ``Writes``
(no round trip of their own); each append trims the set to its newest ``length``
entries and renews its expiry. Erased with the customer (``storage.erasure``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

import orjson

from stream_app.clock import from_ms, to_ms
from stream_app.decisions.timeline import Entry, Kind
from stream_app.storage.client import RedisClient
from stream_app.storage.commit import Writes
from stream_app.storage.layout import Keys


def entry_member(entry: Entry) -> bytes:
    """The stored member of ``entry`` (its time is the score).

    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> entry_member(Entry(at, "suppressed", "dec-1", "winback", "cap_day"))
    b'{"k":"suppressed","d":"dec-1","c":"winback","w":"cap_day"}'
    >>> parse_entry(entry_member(Entry(at, "sent", "d", "c", channel="push")), to_ms(at))
    Entry(at=datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), kind='sent', \
decision_id='d', campaign_id='c', why='', detail='', channel='push', send_at=None)
    """
    fields: dict[str, Any] = {"k": entry.kind, "d": entry.decision_id, "c": entry.campaign_id}
    optional = {
        "w": entry.why,
        "x": entry.detail,
        "ch": entry.channel,
        "s": None if entry.send_at is None else to_ms(entry.send_at),
    }
    fields.update((k, v) for k, v in optional.items() if v)
    return orjson.dumps(fields)


def parse_entry(member: bytes | str, ms: int) -> Entry:
    """The entry of a stored member scored ``ms``."""
    data: dict[str, Any] = orjson.loads(member)
    send = data.get("s")
    return Entry(
        from_ms(ms),
        cast(Kind, data["k"]),
        data["d"],
        data["c"],
        data.get("w", ""),
        data.get("x", ""),
        data.get("ch"),
        None if send is None else from_ms(int(send)),
    )


class DecisionLog:
    def __init__(self, client: RedisClient, keys: Keys, length: int, kept: timedelta) -> None:
        self._client = client
        self._keys = keys
        self._length = length
        self._kept_s = int(kept.total_seconds())

    def append(self, writes: Writes, customer_id: str, entries: Sequence[Entry]) -> None:
        """Log ``entries`` (idempotent), keeping the newest ``length``."""
        if not entries:
            return
        key = self._keys.decision_log(customer_id)
        pairs = [part for e in entries for part in (to_ms(e.at), entry_member(e))]
        writes.add("ZADD", key, *pairs)
        writes.add("ZREMRANGEBYRANK", key, 0, -self._length - 1)
        writes.add("EXPIRE", key, self._kept_s)

    async def read(self, customer_id: str) -> list[Entry]:
        """The customer's logged entries, newest first."""
        found = await self._client.zrevrange(
            self._keys.decision_log(customer_id), 0, -1, withscores=True
        )
        pairs = cast(list[tuple[bytes, float]], found)  # withscores: (member, score) pairs
        return [parse_entry(member, int(score)) for member, score in pairs]
