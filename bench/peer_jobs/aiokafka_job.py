"""Raw aiokafka: a ``getmany`` loop with nothing else, the floor of any asyncio consumer.

Settings: aiokafka's defaults (auto commit every 5 s) but ``fetch_max_wait_ms`` (the
bench's), a 10 s session timeout (as the worker's), ``getmany(max_records=500)``
(Faust's batch here), uvloop (as the worker), redis.asyncio with one pipeline per
batch in ``redis`` mode.

    python -m bench.peer_jobs.aiokafka_job decode --bootstrap ... (see bench.peer_jobs)
"""

from __future__ import annotations

import argparse
from typing import Any

import orjson
import uvloop
from aiokafka import AIOKafkaConsumer
from redis.asyncio import Redis

from bench.peer_jobs import Progress, consume_batch, parse_args

BATCH = 500


async def consume(args: argparse.Namespace, progress: Progress, options: dict[str, Any]) -> None:
    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        auto_offset_reset="earliest",
        **options,
    )
    client = Redis.from_url(args.redis_url)
    await consumer.start()
    try:
        while True:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
            values = [orjson.loads(r.value) for records in fetched.values() for r in records]
            if not values:
                continue
            await consume_batch(values, args, progress, client)
    finally:
        await consumer.stop()
        await client.aclose()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv)
    options: dict[str, Any] = {
        "fetch_max_wait_ms": args.fetch_wait_ms,
        "session_timeout_ms": 10_000,
    }
    progress = Progress(args, {**options, "max_records": BATCH, "loop": "uvloop"})
    uvloop.run(consume(args, progress, options))


if __name__ == "__main__":
    main()
