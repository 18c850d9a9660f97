""" "Frequently bought together": reads of the co-purchase counts (written by ProfileStore)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from redis.asyncio import Redis

from stream_app.storage.keys import Keys


class BasketStore:
    def __init__(self, client: Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

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
