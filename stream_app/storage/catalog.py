"""The catalog as the engine knows it: each item's latest price, stock and category, and
who looked at it recently (the audience of a price drop or a restock).

Updates are last-write-wins by event time, so a late update never overwrites a
newer one, and the comparison with the previous state (is this a drop? a
restock?) is made against what the update replaced, also when it is replayed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from stream_app.clock import from_ms, to_ms
from stream_app.decisions.triggers import ItemChange
from stream_app.events.catalog import ItemUpdate
from stream_app.storage.keys import Keys
from stream_app.storage.scripts import LuaScript, execute


class CatalogStore:
    def __init__(self, client: Redis, keys: Keys, *, viewers_kept: timedelta) -> None:
        self._client = client
        self._keys = keys
        self._viewers_kept = viewers_kept
        self._update = LuaScript("item_update")

    async def update(self, updates: Sequence[ItemUpdate]) -> tuple[list[ItemChange], int]:
        """Apply updates (in order). Returns the change each update made, compared with
        the state it replaced (replays included: they compare the same way; updates older
        than the stored one are left out), and how many changed nothing: replays and
        updates older than the stored state (so a batch replayed after a crash never
        counts an update twice)."""
        if not updates:
            return [], 0

        def build(pipe: Pipeline) -> None:
            for u in updates:
                self._update.queue(
                    pipe,
                    [self._keys.item(u.item_id)],
                    [
                        to_ms(u.event_time),
                        "" if u.price is None else f"{u.price:.2f}",
                        "" if u.in_stock is None else ("1" if u.in_stock else "0"),
                        u.category or "",
                    ],
                )

        raw = await execute(self._client, build, [self._update])
        changes = []
        replays = 0
        for u, result in zip(updates, raw, strict=True):
            status, *state = (_text(v) for v in result)
            replays += status != "new"
            if status == "old":
                continue
            price, stock, category, old_price, old_stock = state
            changes.append(
                ItemChange(
                    item_id=u.item_id,
                    category=category or None,
                    at=u.event_time,
                    price=float(price) if price else None,
                    previous_price=float(old_price) if old_price else None,
                    in_stock=stock != "0",
                    was_in_stock=None if not old_stock else old_stock == "1",
                )
            )
        return changes, replays

    async def categories(self, items: Sequence[str]) -> dict[str, str]:
        """Catalog category of each known item."""
        if not items:
            return {}
        pipe = self._client.pipeline(transaction=False)
        for item in items:
            pipe.hget(self._keys.item(item), "category")
        raw = await pipe.execute()
        return {item: _text(c) for item, c in zip(items, raw, strict=True) if c}

    async def viewed(self, views: Mapping[str, Sequence[tuple[str, int]]], now: datetime) -> None:
        """Remember who viewed which item (item -> [(customer, ms)]), recent views only."""
        if not views:
            return
        oldest = to_ms(now - self._viewers_kept)
        ttl = int(self._viewers_kept.total_seconds())
        pipe = self._client.pipeline(transaction=False)
        for item, seen in views.items():
            key = self._keys.viewers(item)
            pipe.zadd(key, {customer: ms for customer, ms in seen}, gt=True)
            pipe.zremrangebyscore(key, "-inf", oldest)
            pipe.expire(key, ttl)
        await pipe.execute()

    async def viewers(self, items: Sequence[str]) -> list[dict[str, datetime]]:
        """Per item: customers who viewed it recently, with their last view."""
        if not items:
            return []
        pipe = self._client.pipeline(transaction=False)
        for item in items:
            pipe.zrange(self._keys.viewers(item), 0, -1, withscores=True)
        return [{_text(c): from_ms(int(ms)) for c, ms in seen} for seen in await pipe.execute()]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
