""" "Frequently bought together": per-item co-purchase estimates, counted once per order
id (docs/redis-keys.md, ``decisions.together``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import cast

import msgpack

from stream_app.decisions.together import KEPT, pairs
from stream_app.profiles.ops import Order
from stream_app.storage.client import RedisClient, is_cluster
from stream_app.storage.layout import Keys, event_key
from stream_app.storage.scripts import LuaScript, ScriptCall
from stream_app.storage.slots import key_slot

#: Rows (items or categories of one order) counted per script call: fewer calls to
#: pack and dispatch for big invoices, each call still short (Redis runs it alone).
ROWS_PER_CALL = 256


class BasketStore:
    def __init__(
        self, client: RedisClient, keys: Keys, *, kept: timedelta, counted_for: timedelta
    ) -> None:
        """``kept``: a row's life after its last order; ``counted_for``: how long an
        order's run markers outlive its count (the longest a pass may be retried)."""
        self._client = client
        self._keys = keys
        #: The script's settings: marker ttl, row ttl (ms), partners kept per row.
        self._head = (
            int(counted_for.total_seconds() * 1000),
            int(kept.total_seconds() * 1000),
            KEPT,
        )
        self._count = LuaScript("basket")

    def count(self, orders: Sequence[Order]) -> list[ScriptCall]:
        """The script calls that count ``orders``' co-purchases: per order, one per run of
        up to ``ROWS_PER_CALL`` rows (an item's or a category's partners, its own key),
        each run counted once (its marker), so they may ride beside a pass's writes and
        run again after a crash or a failed guard. Their size is linear in an order's
        lines (``together.pairs``). On a Redis Cluster the runs are cut by slot."""
        keys = self._keys
        calls: list[ScriptCall] = []
        for order in orders:
            rows = [
                (basket_key(member), partners)
                for members, basket_key in (
                    (order.items, keys.basket_item),
                    (order.categories, keys.basket_category),
                )
                for member, partners in pairs(order.order_id, members).items()
                if partners
            ]
            order_key = event_key(order.order_id)
            for tag, group in self._by_slot(rows):
                for run, first in enumerate(range(0, len(group), ROWS_PER_CALL)):
                    run_rows = group[first : first + ROWS_PER_CALL]
                    # Redis' cmsgpack reads no str8 / bin types: strings go as raw.
                    packed = msgpack.packb((*self._head, run_rows), use_bin_type=False)
                    marker = keys.basket_run(order_key, run, tag)
                    calls.append(self._count.call([marker], [packed]))
        return calls

    def _by_slot(
        self, rows: list[tuple[str, list[str]]]
    ) -> list[tuple[str, list[tuple[str, list[str]]]]]:
        """The rows as one group (no tag), or on a Redis Cluster by slot, each group with
        its first row's hash tag (a script touches one slot)."""
        if not is_cluster(self._client):
            return [("", rows)]
        groups: dict[int, list[tuple[str, list[str]]]] = {}
        for row in rows:
            groups.setdefault(key_slot(row[0]), []).append(row)
        return [
            (group[0][0].partition("{")[2].partition("}")[0], group) for group in groups.values()
        ]

    async def items_with(self, item_id: str, limit: int = 10) -> list[tuple[str, int]]:
        """Items most often in the same order as ``item_id``, with their order counts
        (orders of more than ``together.SAMPLED + 1`` items sampled)."""
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
            item: [(member.decode(), int(score)) for member, score in top]
            for item, top in zip(items, found, strict=True)
        }

    async def categories_with(self, category: str, limit: int = 10) -> list[tuple[str, int]]:
        """Categories most often in the same order as ``category``."""
        return await self._top(self._keys.basket_category(category), limit)

    async def _top(self, key: str, limit: int) -> list[tuple[str, int]]:
        found = await self._client.zrevrange(key, 0, limit - 1, withscores=True)
        top = cast(list[tuple[bytes, float]], found)  # withscores: (member, score) pairs
        return [(member.decode(), int(score)) for member, score in top]


def _tag(key: str) -> str:
    """The hash tag of a key (the text between its first braces)."""
    return key.partition("{")[2].partition("}")[0]
