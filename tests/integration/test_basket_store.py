"""Bought-together estimates against a real Redis: once per order, bounded, expiring."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from stream_app.decisions.together import KEPT, ORDERS_KEPT, SAMPLED
from stream_app.profiles.ops import Order
from stream_app.storage.basket import ROWS_PER_CALL, BasketStore
from stream_app.storage.layout import Keys
from stream_app.storage.scripts import run_scripts

pytestmark = pytest.mark.integration

KEPT_FOR = timedelta(days=90)


def store(redis: Redis) -> tuple[BasketStore, Keys]:
    keys = Keys(f"b{uuid.uuid4().hex[:8]}")
    return BasketStore(redis, keys, kept=KEPT_FOR), keys


def order(order_id: str, items: list[str], categories: tuple[str, ...] = (), ms: int = 1) -> Order:
    return Order(order_id, tuple(sorted(items)), categories, ms)


async def test_small_orders_count_exactly_once_per_order_id(redis: Redis) -> None:
    basket, keys = store(redis)
    first = order("o-1", ["tent", "mat", "lamp"], ("camping", "light"))
    calls = basket.count([first, order("o-2", ["tent", "mat"], ("camping",))])
    assert len(calls) == 2, "one call per order (its rows fit in one)"
    assert sum(len(call.keys) for call in calls) == 2 * (3 + 2 + 2), "a row per item, category"
    await run_scripts(redis, calls)
    await run_scripts(redis, basket.count([first]))  # a retried pass
    assert await basket.items_with("tent") == [("mat", 2), ("lamp", 1)]
    assert await basket.items_with_each(["lamp", "none"]) == {
        "lamp": [("tent", 1), ("mat", 1)],  # ties: reverse order of the id
        "none": [],
    }
    assert await basket.categories_with("light") == [("camping", 1)]
    ttl_ms = await redis.pttl(keys.basket_item("tent"))
    assert KEPT_FOR.total_seconds() * 1000 - 60_000 < ttl_ms <= KEPT_FOR.total_seconds() * 1000
    assert await redis.pttl(keys.basket_orders(keys.basket_item("tent"))) > 0


async def test_a_large_order_counts_every_item_with_bounded_work_and_memory(redis: Redis) -> None:
    basket, keys = store(redis)
    items = [f"sku-{n}" for n in range(500)]
    calls = basket.count([order("o-big", items)])
    assert len(calls) == -(-500 // ROWS_PER_CALL), "runs of rows, not a call per item"
    assert sum(len(call.keys) for call in calls) == 2 * 500
    assert sum(len(call.args) for call in calls) == 5 * len(calls) + 500 * (1 + SAMPLED)
    await run_scripts(redis, calls)
    for n in range(5):  # more partners of one item than it keeps
        many = ["sku-0", *(f"x{n}-{m}" for m in range(40))]
        await run_scripts(redis, basket.count([order(f"o-{n}", many, ms=10 + n)]))
    assert await redis.zcard(keys.basket_item("sku-0")) == KEPT
    row = await redis.zrange(keys.basket_item("sku-0"), 0, -1, withscores=True)
    assert sum(s for _, s in row) == SAMPLED * 6, "Space-Saving keeps the row's total"
    assert await redis.zcard(keys.basket_item("sku-1")) == SAMPLED
    for n in range(ORDERS_KEPT):
        await run_scripts(redis, basket.count([order(f"p-{n}", ["sku-9", "y"], ms=100 + n)]))
    assert await redis.zcard(keys.basket_orders(keys.basket_item("sku-9"))) == ORDERS_KEPT
    assert (await basket.items_with("sku-9", limit=1))[0] == ("y", ORDERS_KEPT)
