"""Redis goes away mid-stream and comes back: the worker waits, then catches up exactly.

A Redis of its own (append-only file, fsync always, so a restart keeps its data)
and a worker of its own; events keep arriving while Redis is down.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from stream_app.devstack.redis_server import RedisServer
from stream_app.devstack.workers import worker_process
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.storage.layout import Keys
from stream_app.storage.stats import StatsStore
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import dumps, event, event_counts, eventually, isolated, produce

pytestmark = pytest.mark.integration

CUSTOMERS = 20
EVENTS_EACH = 30  # half before the outage, half during it
DURABLE = ("--appendonly", "yes", "--appendfsync", "always")


def views(customers: list[str], start: int, stop: int) -> list[tuple[bytes, bytes]]:
    return [
        (
            c.encode(),
            dumps(
                event(
                    "product_view",
                    c,
                    f"e-{c}-{n}",
                    item_id=f"sku-{n}",
                    category="books",
                    price=10.0,
                )
            ),
        )
        for n in range(start, stop)
        for c in customers
    ]


async def test_the_worker_waits_out_a_redis_outage_and_loses_or_doubles_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    logs = Path(ARTIFACTS) / "logs"
    data = tmp_path / "redis-data"
    redis_server = RedisServer(logs, extra_args=DURABLE, data_dir=data).start()
    port = redis_server.port
    own, run = isolated(settings, "o", tmp_path / "faust")
    mine = own.updated(redis={"url": redis_server.url, "retry_max_s": 0.5})
    await ensure_topics(mine)
    customers = [f"out-{run}-{i}" for i in range(CUSTOMERS)]
    half = EVENTS_EACH // 2
    total = CUSTOMERS * EVENTS_EACH
    keys = Keys(mine.redis.key_prefix)
    try:
        with worker_process(mine, logs, name="outage") as worker:
            await produce(mine, mine.topics.clickstream, views(customers, 0, half))
            redis = Redis.from_url(mine.redis.url)
            stats = StatsStore(redis, keys)
            await eventually(stats.read, lambda s: s.get("events_applied", 0) > 0, within=30)
            await redis.aclose()

            redis_server.stop()  # mid-stream: some of the first half may still be in flight
            await produce(mine, mine.topics.clickstream, views(customers, half, EVENTS_EACH))
            await asyncio.sleep(3)
            assert worker.running, "a Redis outage must not kill the worker"

            redis_server = RedisServer(logs, port=port, extra_args=DURABLE, data_dir=data).start()
            redis = Redis.from_url(mine.redis.url)
            stats = StatsStore(redis, keys)
            try:

                def accounted(s: dict[str, int]) -> bool:
                    return s.get("events_applied", 0) + s.get("events_duplicate", 0) >= total

                final = await eventually(stats.read, accounted, within=60)
                counts = [(await event_counts(redis, keys, [c]))[c].get("n") for c in customers]
            finally:
                await redis.aclose()
        assert final.get("events_applied", 0) + final.get("events_duplicate", 0) == total, final
        assert [int(n or 0) for n in counts] == [EVENTS_EACH] * CUSTOMERS, "each event once"
    finally:
        redis_server.stop()
