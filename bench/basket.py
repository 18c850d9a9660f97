"""Basket bench: "frequently bought together" estimates against exact counting.

A generated catalog of 5,000 items in bundles of 12 (items bought together), 30,000
orders of 2 to 500 lines (heavy-tailed sizes) made of bundles (each member with p = 0.8,
one bundle per four lines) topped up with popular items, counted by ``BasketStore`` on a
real redis-server from the devstack, as the worker counts them. Figures:

- ``basket.recall_at_10``: per evaluated item (a random sample of the catalog with at
  least 10 partners whose 10th count is at least 2), the share of the stored top 10
  whose exact count reaches the exact 10th count (ties count as hits); the mean.
- ``basket.bytes_per_item``: the largest ``MEMORY USAGE`` of an item's basket key (its
  partners); ``basket.bytes_per_item_mean`` the mean; ``basket.bytes_per_run`` that of
  a run's marker (an order's, until its redelivery is too old to count).
- ``basket.cost_ratio_500_vs_50``: median time to count one 500-line order over one
  50-line order (sampling, script calls and their round trip), rows already full.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from statistics import mean, median

from redis.asyncio import Redis

from bench.common import finish
from stream_app.devstack.redis_server import RedisServer
from stream_app.profiles.ops import Order
from stream_app.storage.basket import BasketStore
from stream_app.storage.layout import Keys, event_key
from stream_app.storage.scripts import run_scripts

#: Items per bundle (bought together): each item has 11 real partners.
BUNDLE = 12
#: Order sizes: 2 to ``--max-lines`` lines, P(n) ~ n^-SIZE_EXPONENT (a heavy tail: a fifth
#: of the lines are in orders of more than 33 items).
SIZE_EXPONENT = 2.2
#: Orders counted per pipeline (one round trip), as a worker's batch.
CHUNK = 100


@dataclass(frozen=True, slots=True)
class Catalog:
    """Items by popularity (Zipf-like weights) and their bundles."""

    items: list[str]
    weights: list[float]

    def order(self, rng: random.Random, lines: int) -> list[str]:
        """``lines`` distinct items: bundles (each member with p = 0.8), one per four
        lines, topped up with popular items."""
        chosen: set[str] = set()
        bundles = range(0, len(self.items), BUNDLE)
        for first in rng.choices(bundles, self.weights[::BUNDLE], k=max(1, lines // 4)):
            chosen.update(i for i in self.items[first : first + BUNDLE] if rng.random() < 0.8)
        while len(chosen) < lines:
            chosen.update(rng.choices(self.items, self.weights, k=lines - len(chosen)))
        return sorted(rng.sample(sorted(chosen), lines))


def make_catalog(size: int, rng: random.Random) -> Catalog:
    items = [f"sku-{n:05d}" for n in range(size)]
    ranks = list(range(size))
    rng.shuffle(ranks)
    return Catalog(items, [1 / (rank + 1) ** 0.8 for rank in ranks])


def order_sizes(largest: int) -> tuple[list[int], list[float]]:
    """Order sizes and their weights."""
    lines = list(range(2, largest + 1))
    return lines, [n**-SIZE_EXPONENT for n in lines]


def exact_rows(orders: Sequence[list[str]], evaluated: set[str]) -> dict[str, Counter[str]]:
    """Exact co-purchase counts of the evaluated items."""
    rows: dict[str, Counter[str]] = {item: Counter() for item in evaluated}
    for items in orders:
        for a in evaluated.intersection(items):
            rows[a].update(b for b in items if b != a)
    return rows


def recall_at_10(exact: Counter[str], stored: Sequence[str]) -> float:
    tenth = exact.most_common(10)[-1][1]
    return sum(exact[b] >= tenth for b in stored[:10]) / 10


async def count_all(basket: BasketStore, client: Redis, orders: Sequence[list[str]]) -> None:
    for start in range(0, len(orders), CHUNK):
        chunk = [
            Order(f"o-{start + n}", tuple(items), (), start + n)
            for n, items in enumerate(orders[start : start + CHUNK])
        ]
        await run_scripts(client, basket.count(chunk))


async def timed(basket: BasketStore, client: Redis, order: Order) -> float:
    started = time.perf_counter()
    await run_scripts(client, basket.count([order]))
    return time.perf_counter() - started


async def measure(url: str, args: argparse.Namespace) -> dict[str, float | int]:
    rng = random.Random(args.seed)
    catalog = make_catalog(args.items, rng)
    lines, weights = order_sizes(args.max_lines)
    orders = [catalog.order(rng, n) for n in rng.choices(lines, weights, k=args.orders)]
    keys = Keys("bench")
    client = Redis.from_url(url)
    basket = BasketStore(client, keys, kept=timedelta(days=90), counted_for=timedelta(days=7))
    try:
        started = time.perf_counter()
        await count_all(basket, client, orders)
        count_s = time.perf_counter() - started
        sample = set(rng.sample(catalog.items, args.evaluated))
        exact = {
            a: row
            for a, row in exact_rows(orders, sample).items()
            if len(row) >= 10 and row.most_common(10)[-1][1] >= 2
        }
        stored = await basket.items_with_each(sorted(exact), limit=10)
        recalls = [recall_at_10(exact[a], [b for b, _ in stored[a]]) for a in exact]
        pipe = client.pipeline(transaction=False)
        for item in catalog.items:
            pipe.memory_usage(keys.basket_item(item), samples=0)
        per_item = [int(size) for size in await pipe.execute() if size]
        per_run = await client.memory_usage(keys.basket_run(event_key("o-0"), 0), samples=0)
        costs: dict[int, list[float]] = {50: [], 500: []}
        for n in range(args.rounds):
            for lines in costs:
                order = Order(f"t-{lines}-{n}", tuple(catalog.order(rng, lines)), (), n)
                costs[lines].append(await timed(basket, client, order))
    finally:
        await client.aclose()
    return {
        "basket.orders": len(orders),
        "basket.lines": sum(len(items) for items in orders),
        "basket.largest_order": max(len(items) for items in orders),
        "basket.count_s": round(count_s, 2),
        "basket.items_evaluated": len(recalls),
        "basket.recall_at_10": round(mean(recalls), 3),
        "basket.bytes_per_item": max(per_item),
        "basket.bytes_per_item_mean": round(mean(per_item)),
        "basket.bytes_per_run": int(per_run or 0),
        "basket.cost_500_ms": round(median(costs[500]) * 1000, 2),
        "basket.cost_50_ms": round(median(costs[50]) * 1000, 2),
        "basket.cost_ratio_500_vs_50": round(median(costs[500]) / median(costs[50]), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--orders", type=int, default=30_000)
    parser.add_argument("--max-lines", type=int, default=500)
    parser.add_argument("--evaluated", type=int, default=1000, help="items sampled for recall")
    parser.add_argument("--rounds", type=int, default=30, help="timed orders of each size")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--no-write", action="store_true", help="print only, no latest.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="bench-basket-") as tmp,
        RedisServer(Path(tmp) / "logs") as server,
    ):
        figures = asyncio.run(measure(server.url, args))
    for key, value in figures.items():
        print(f"{key:40s} {value}")
    return finish(figures, [], write=not args.no_write, started=started, what="basket bench")


if __name__ == "__main__":
    raise SystemExit(main())
