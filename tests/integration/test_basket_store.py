"""Bought-together estimates against a real Redis: once per order, bounded, expiring."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from stream_app.decisions.together import KEPT, SAMPLED
from stream_app.profiles.ops import Order
from stream_app.storage.basket import ROWS_PER_CALL, BasketStore
from stream_app.storage.layout import Keys, event_key
from stream_app.storage.scripts import run_scripts

pytestmark = pytest.mark.integration

KEPT_FOR = timedelta(days=90)
COUNTED_FOR = timedelta(days=7)


def store(redis: Redis) -> tuple[BasketStore, Keys]:
    keys = Keys(f"b{uuid.uuid4().hex[:8]}")
    return BasketStore(redis, keys, kept=KEPT_FOR, counted_for=COUNTED_FOR), keys


def order(order_id: str, items: list[str], categories: tuple[str, ...] = (), ms: int = 1) -> Order:
    return Order(order_id, tuple(sorted(items)), categories, ms)


async def test_small_orders_count_exactly_once_per_order_id(redis: Redis) -> None:
    basket, keys = store(redis)
    first = order("o-1", ["tent", "mat", "lamp"], ("camping", "light"))
    calls = basket.count([first, order("o-2", ["tent", "mat"], ("camping",))])
    assert len(calls) == 2, "one call per order (its rows fit in one)"
    assert await run_scripts(redis, calls) == [3 + 2, 2 + 0], "a row per item, category"
    assert await run_scripts(redis, basket.count([first])) == [0], "a retried pass"
    assert await basket.items_with("tent") == [("mat", 2), ("lamp", 1)]
    assert await basket.items_with_each(["lamp", "none"]) == {
        "lamp": [("tent", 1), ("mat", 1)],  # ties: reverse order of the id
        "none": [],
    }
    assert await basket.categories_with("light") == [("camping", 1)]
    ttl_ms = await redis.pttl(keys.basket_item("tent"))
    assert KEPT_FOR.total_seconds() * 1000 - 60_000 < ttl_ms <= KEPT_FOR.total_seconds() * 1000
    marker_ms = await redis.pttl(keys.basket_run(event_key("o-1"), 0))
    assert COUNTED_FOR.total_seconds() * 1000 - 60_000 < marker_ms
    assert marker_ms <= COUNTED_FOR.total_seconds() * 1000


async def test_a_large_order_counts_every_item_with_bounded_work_and_memory(redis: Redis) -> None:
    basket, keys = store(redis)
    items = [f"sku-{n}" for n in range(500)]
    calls = basket.count([order("o-big", items)])
    assert len(calls) == -(-500 // ROWS_PER_CALL), "runs of rows, not a call per item"
    assert all(len(call.keys) == 1 and len(call.args) == 1 for call in calls), "packed"
    assert sum(await run_scripts(redis, calls)) == 500
    retried = basket.count([order("o-big", list(reversed(items)))])
    assert await run_scripts(redis, retried) == [0] * len(calls), "the same runs, counted"
    for n in range(5):  # more partners of one item than it keeps
        many = ["sku-0", *(f"x{n}-{m}" for m in range(40))]
        await run_scripts(redis, basket.count([order(f"o-{n}", many, ms=10 + n)]))
    assert await redis.zcard(keys.basket_item("sku-0")) == KEPT
    row = await redis.zrange(keys.basket_item("sku-0"), 0, -1, withscores=True)
    assert sum(s for _, s in row) == SAMPLED * 6, "Space-Saving keeps the row's total"
    assert await redis.zcard(keys.basket_item("sku-1")) == SAMPLED
    for n in range(3):
        await run_scripts(redis, basket.count([order(f"p-{n}", ["sku-9", "y"], ms=100 + n)]))
    assert (await basket.items_with("sku-9", limit=1))[0] == ("y", 3)
