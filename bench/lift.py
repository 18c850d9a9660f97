"""Reading lift: counts per campaign and cell against scanning every decision (issue 18).

``--decisions`` decisions, spread over ``--campaigns`` campaigns, two arms and three
tiers (a fifth converted), are recorded per decision as the previous version did (one
field each in ``<p>:lift:{<campaign>}``, no counts). The first report builds the counts
from them (``lift.rebuild_ms_per_million``: that one-time recount, which blocks Redis,
per million decisions); then ``lift.read_ms`` is a report's read of every campaign's
counts (median of ``--reads``) against ``lift.scan_read_ms``, the previous version's
read (``HSCAN`` of every decision of every campaign, counted by value).

    python -m bench.lift [--decisions 1000000 --campaigns 4 --reads 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from typing import Any

from redis.asyncio import Redis

from bench.common import on_scratch_redis, report
from stream_app.storage.decisions import DecisionStore
from stream_app.storage.layout import Keys
from stream_app.storage.lift_fields import lift_value


async def record(client: Redis, keys: Keys, campaigns: list[str], decisions: int) -> None:
    """The decisions as the previous version recorded them: a field each, no counts."""
    chunk = 10_000
    for start in range(0, decisions, chunk):
        pipe = client.pipeline(transaction=False)
        for n in range(start, min(start + chunk, decisions)):
            arm = "holdout" if n % 10 == 0 else "treated"
            value = lift_value(arm, ("new", "regular", "vip")[n % 3], n % 5 == 0)
            pipe.hset(keys.lift(campaigns[n % len(campaigns)]), f"dec-{n:024x}", value)
        await pipe.execute()
    await client.sadd(keys.campaigns(), *campaigns)


async def scan(client: Redis, keys: Keys, campaigns: list[str]) -> int:
    """The previous version's read: every decision of every campaign, counted by value."""
    values: Counter[bytes] = Counter()
    for campaign in campaigns:
        async for _, value in client.hscan_iter(keys.lift(campaign), count=1000):
            values[value] += 1
    return values.total()


async def timed_ms(what: Any, reads: int) -> float:
    """Median wall time of ``reads`` awaits of ``what()``, ms."""
    times = []
    for _ in range(reads):
        started = time.perf_counter()
        await what()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    client, keys = Redis.from_url(url), Keys("bench")
    campaigns = [f"campaign-{n}" for n in range(args.campaigns)]
    store = DecisionStore(client, keys)
    try:
        await record(client, keys, campaigns, args.decisions)
        started = time.perf_counter()
        lifts = await store.lifts()
        rebuild_ms = (time.perf_counter() - started) * 1000
        assert sum(x.treated.n + x.holdout.n for x in lifts) == args.decisions
        read_ms = await timed_ms(store.lifts, args.reads)
        scan_ms = await timed_ms(lambda: scan(client, keys, campaigns), max(1, args.reads // 5))
    finally:
        await client.aclose()
    return {
        "lift.decisions": args.decisions,
        "lift.campaigns": args.campaigns,
        "lift.rebuild_ms_per_million": round(rebuild_ms * 1_000_000 / args.decisions),
        "lift.read_ms": round(read_ms, 2),
        "lift.scan_read_ms": round(scan_ms, 1),
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    return on_scratch_redis("stream-app-lift-", run, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--campaigns", type=int, default=4)
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--no-write", dest="write", action="store_false")
    return report(parser.parse_args(argv), measure, "lift")


if __name__ == "__main__":
    raise SystemExit(main())
