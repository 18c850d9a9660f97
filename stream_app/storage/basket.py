""" "Frequently bought together": co-purchase counts, counted once per order id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import cast

from redis.asyncio import Redis

from stream_app.profiles.ops import Order
from stream_app.storage.layout import Keys
from stream_app.storage.scripts import LuaScript, ScriptCall

#: Basket analysis counts at most this many distinct items of one order.
BASKET_MAX_ITEMS = 50


class BasketStore:
    def __init__(self, client: Redis, keys: Keys, *, order_memory: timedelta) -> None:
        self._client = client
        self._keys = keys
        self._memory_ms = int(order_memory.total_seconds() * 1000)
        self._count = LuaScript("basket")

    def count(self, orders: Sequence[Order], now_ms: int) -> list[ScriptCall]:
        """The script calls that count ``orders``' co-purchases, each once per order id
        (so they may ride beside a pass's writes and run again after a crash)."""
        keys = self._keys
        calls: list[ScriptCall] = []
        for order in orders:
            items = order.items[:BASKET_MAX_ITEMS]
            calls.append(
                self._count.call(
                    [
                        keys.basket_orders(),
                        *(keys.basket_item(item) for item in items),
                        *(keys.basket_category(c) for c in order.categories),
                    ],
                    [
                        order.order_id,
                        order.ms,
                        now_ms - self._memory_ms,
                        len(items),
                        *items,
                        *order.categories,
                    ],
                )
            )
        return calls

    async def items_with(self, item_id: str, limit: int = 10) -> list[tuple[str, int]]:
        """Items most often in the same order as ``item_id``, with their order counts."""
        return await self._top(self._keys.basket_item(item_id), limit)

    async def items_with_each(
        self, items: Sequence[str], limit: int = 10
    ) -> dict[str, list[tuple[str, int]]]:
        """``items_with`` for several items, in one pipeline."""
        pipe = self._client.pipeline(transaction=False)
        for item in items:
            pipe.zrevrange(self._keys.basket_item(item), 0, limit - 1, withscores=True)
        found = await pipe.execute()
        return {
            item: [(member.decode(), int(score)) for member, score in pairs]
            for item, pairs in zip(items, found, strict=True)
        }

    async def categories_with(self, category: str, limit: int = 10) -> list[tuple[str, int]]:
        """Categories most often in the same order as ``category``."""
        return await self._top(self._keys.basket_category(category), limit)

    async def _top(self, key: str, limit: int) -> list[tuple[str, int]]:
        found = await self._client.zrevrange(key, 0, limit - 1, withscores=True)
        pairs = cast(list[tuple[bytes, float]], found)  # withscores: (member, score) pairs
        return [(member.decode(), int(score)) for member, score in pairs]
