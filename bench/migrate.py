"""``stream-app migrate event-keys`` on a deployment of hex ids: how long an upgrade waits.

``--customers`` customers are written as the version before the decimal ``event_key``
stored them: ``--seen`` hex ids in ``seen`` (with event times), ``--orders`` in
``orders``, and a basket run marker for one customer in four (a recent order). The
migration then converts them all (``migrate.seconds``, scaled to a million customers
in ``migrate.s_per_million_customers``; ``migrate.ids_per_s``); a second run, which
changes nothing but reads everything again, is ``migrate.rerun_seconds``.

    python -m bench.migrate [--customers 200000 --seen 40 --orders 4]
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from redis.asyncio import Redis

from bench.common import on_scratch_redis, report
from stream_app.storage.layout import Keys
from stream_app.storage.migrate import EventKeyMigration


async def seed(client: Redis, keys: Keys, args: argparse.Namespace) -> int:
    """The customers' ids as 16 hex digits; returns how many ids were written."""
    rng = random.Random(18)
    chunk = 2_000
    for start in range(0, args.customers, chunk):
        pipe = client.pipeline(transaction=False)
        for n in range(start, min(start + chunk, args.customers)):
            cid = f"c-{n}"
            seen = {f"{rng.getrandbits(64):016x}": 1_780_000_000_000 + i for i in range(args.seen)}
            pipe.zadd(keys.seen(cid), seen)
            pipe.sadd(
                keys.orders(cid), *(f"{rng.getrandbits(64):016x}" for _ in range(args.orders))
            )
            if n % 4 == 0:
                pipe.set(keys.basket_run(f"{rng.getrandbits(64):016x}", 0), "1", px=86_400_000)
        await pipe.execute()
    return args.customers * (args.seen + args.orders) + (args.customers + 3) // 4


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    client, keys = Redis.from_url(url), Keys("bench")
    try:
        ids = await seed(client, keys, args)
        migration = EventKeyMigration(client, keys, dry_run=False)
        started = time.perf_counter()
        done = await migration.run()
        seconds = time.perf_counter() - started
        assert sum(t.ids for t in done.values()) == ids, done
        started = time.perf_counter()
        again = await migration.run()
        rerun = time.perf_counter() - started
        assert sum(t.ids for t in again.values()) == 0, again
    finally:
        await client.aclose()
    return {
        "migrate.customers": args.customers,
        "migrate.ids": ids,
        "migrate.seconds": round(seconds, 1),
        "migrate.s_per_million_customers": round(seconds * 1_000_000 / args.customers),
        "migrate.ids_per_s": round(ids / seconds),
        "migrate.rerun_seconds": round(rerun, 1),
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    return on_scratch_redis("stream-app-migrate-", run, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seen", type=int, default=40)
    parser.add_argument("--orders", type=int, default=4)
    parser.add_argument("--no-write", dest="write", action="store_false")
    return report(parser.parse_args(argv), measure, "migrate")


if __name__ == "__main__":
    raise SystemExit(main())
