"""The catalog as the engine knows it: each item's latest price, stock and category, and
who looked at it recently or wishes it (the audience of a price drop or a restock).

Updates are last-write-wins by event time, so a late update never overwrites a
newer one, and the comparison with the previous state (is this a drop? a
restock?) is made against what the update replaced, also when it is replayed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from stream_app.clock import from_ms, to_ms
from stream_app.decisions.triggers import ItemAudience, ItemChange
from stream_app.events.catalog import ItemUpdate
from stream_app.storage.client import RedisClient
from stream_app.storage.commit import Writes
from stream_app.storage.layout import Keys
from stream_app.storage.scripts import LuaScript, ScriptCall


class CatalogStore:
    def __init__(
        self, client: RedisClient, keys: Keys, *, viewers_kept: timedelta, wishers_ttl_s: int
    ) -> None:
        self._client = client
        self._keys = keys
        self._viewers_kept = viewers_kept
        self._wishers_ttl_s = wishers_ttl_s
        self._update = LuaScript("item_update")

    def updates(self, updates: Sequence[ItemUpdate], now: datetime) -> list[ScriptCall]:
        """The calls that apply ``updates`` (in order), to run with a pass's reads;
        ``changes`` reads their answers."""
        oldest = to_ms(now - self._viewers_kept)
        return [
            self._update.call(
                [
                    self._keys.item(u.item_id),
                    self._keys.viewers(u.item_id),
                    self._keys.wishers(u.item_id),
                ],
                [
                    to_ms(u.event_time),
                    "" if u.price is None else f"{u.price:.2f}",
                    "" if u.in_stock is None else ("1" if u.in_stock else "0"),
                    u.category or "",
                    oldest,
                ],
            )
            for u in updates
        ]

    @staticmethod
    def changes(
        updates: Sequence[ItemUpdate], answers: Sequence[Any]
    ) -> tuple[list[tuple[ItemChange, ItemAudience]], int]:
        """The change each update made, compared with the state it replaced (replays
        included: they compare the same way; updates older than the stored one are left
        out), with the item's viewers and wishers; and how many changed nothing: replays and updates
        older than the stored state (a batch replayed after a crash never counts an
        update twice)."""
        changes = []
        replays = 0
        for u, result in zip(updates, answers, strict=True):
            status = _text(result[0])
            replays += status != "new"
            if status == "old":
                continue
            price, stock, category, old_price, old_stock = (_text(v) for v in result[1:6])
            change = ItemChange(
                item_id=u.item_id,
                category=category or None,
                at=u.event_time,
                price=float(price) if price else None,
                previous_price=float(old_price) if old_price else None,
                in_stock=stock != "0",
                was_in_stock=None if not old_stock else old_stock == "1",
            )
            changes.append((change, ItemAudience(_scores(result[6]), _scores(result[7]))))
        return changes, replays

    def viewed(
        self, writes: Writes, views: Mapping[str, Sequence[tuple[str, int]]], now: datetime
    ) -> None:
        """Remember who viewed which item (item -> [(customer, ms)]). Views older than
        ``viewers_kept`` are trimmed here, as when the item changes (the same bound: an
        item viewed every day would otherwise keep every viewer it ever had), or expire
        with the key."""
        ttl = int(self._viewers_kept.total_seconds())
        oldest = to_ms(now - self._viewers_kept)
        for item, seen in views.items():
            key = self._keys.viewers(item)
            writes.add("ZADD", key, "GT", *(part for cid, ms in seen for part in (ms, cid)))
            writes.add("ZREMRANGEBYSCORE", key, "-inf", f"({oldest}")
            writes.add("EXPIRE", key, ttl)

    def wished(self, writes: Writes, customer_id: str, wishes: Mapping[str, int | None]) -> None:
        """Set the customer's place among the wishers of each item of ``wishes`` from
        their profile (item -> when wished, or None: not on the wishlist): a replay
        writes the same."""
        for item, ms in wishes.items():
            key = self._keys.wishers(item)
            if ms is None:
                writes.add("ZREM", key, customer_id)
            else:
                writes.add("ZADD", key, ms, customer_id)
                writes.add("EXPIRE", key, self._wishers_ttl_s)


def _scores(flat: Sequence[Any]) -> dict[str, datetime]:
    """A ``ZRANGE WITHSCORES`` answer: member -> score as a time."""
    return {_text(flat[i]): from_ms(int(float(flat[i + 1]))) for i in range(0, len(flat), 2)}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
