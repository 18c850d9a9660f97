"""Our transport driver under a crash: a worker killed while a batch of records (one
message per partition fetch) is in flight loses nothing and applies nothing twice.

Redis writes are paused (``CLIENT PAUSE WRITE``, which holds scripts too) once the
worker consumes, so the next batch it fetches waits on Redis: the worker is killed
with SIGKILL right then, mid-batch, its offsets not committed. A fresh worker of the
same group re-reads the batch: every event is applied exactly once, and the group's
committed offsets reach the end of the topics (the batch's whole offset range was
committed, not only its last record's).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from stream_app.devstack.workers import worker_process
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.storage.layout import Keys
from stream_app.streaming.lag import LagProbe
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import (
    dumps,
    event,
    event_counts,
    eventually,
    isolated,
    produce,
    sigkill,
)

pytestmark = pytest.mark.integration

CUSTOMERS = 30
EACH = 10


async def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(
    settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    mine, run = isolated(settings, "b", tmp_path / "faust")
    await ensure_topics(mine)
    keys = Keys(mine.redis.key_prefix)
    customers = [f"{run}-{i}" for i in range(CUSTOMERS)]
    logs = ARTIFACTS / "logs"

    async def applied() -> int:
        counts = await event_counts(redis, keys, customers)
        return sum(c.get("n", 0) for c in counts.values())

    def views(start: int, stop: int) -> list[tuple[bytes, bytes]]:
        return [
            (cid.encode(), dumps(event("page_view", cid, f"{cid}-{n}", path=f"/p/{n}")))
            for n in range(start, stop)
            for cid in customers
        ]

    probe = LagProbe(mine, mine.topics.inbound())
    await probe.start()
    try:
        first = worker_process(mine, logs, name="transport-a")
        with first:
            await produce(mine, mine.topics.clickstream, views(0, 1))
            consuming = await eventually(applied, lambda n: n == CUSTOMERS, within=90)
            assert consuming == CUSTOMERS, f"the first worker consumes: {first.log_tail()}"
            await redis.execute_command("CLIENT", "PAUSE", "30000", "WRITE")
            try:
                await produce(mine, mine.topics.clickstream, views(1, EACH))
                await asyncio.sleep(2.0)  # fetched, decoded, waiting on Redis
                sigkill(first)
            finally:
                await redis.execute_command("CLIENT", "UNPAUSE")
        assert await applied() == CUSTOMERS, "nothing of the killed batch was written"

        second = worker_process(mine, logs, name="transport-b")
        with second:
            total = await eventually(applied, lambda n: n >= CUSTOMERS * EACH, within=90)
            lag = await eventually(probe.lag, lambda n: n == 0, within=30)
            await asyncio.sleep(1.0)  # room for a redelivery to double something
            counts = await event_counts(redis, keys, customers)
    finally:
        await probe.stop()
    assert total == CUSTOMERS * EACH
    assert lag == 0, "the committed offsets cover every batch, gaps included"
    assert {c: n.get("n") for c, n in counts.items()} == {c: EACH for c in customers}


async def test_a_partition_whose_first_batch_is_one_record_still_commits_to_the_end(
    settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    """Faust counts no gap after offset 0: committing a batch from its last record's
    offset alone would stall here (one record at offset 0, then a batch from 1)."""
    mine, run = isolated(settings, "z", tmp_path / "faust")
    await ensure_topics(mine)
    cid = run
    keys = Keys(mine.redis.key_prefix)

    async def applied() -> int:
        return (await event_counts(redis, keys, [cid]))[cid].get("n", 0)

    def views(start: int, stop: int) -> list[tuple[bytes, bytes]]:
        pages = [event("page_view", cid, f"{cid}-{n}", path="/") for n in range(start, stop)]
        return [(cid.encode(), dumps(page)) for page in pages]

    probe = LagProbe(mine, mine.topics.inbound())
    await probe.start()
    try:
        with worker_process(mine, ARTIFACTS / "logs", name="transport-zero"):
            await produce(mine, mine.topics.clickstream, views(0, 1))
            assert await eventually(applied, lambda n: n == 1, within=90) == 1
            await produce(mine, mine.topics.clickstream, views(1, 50))
            assert await eventually(applied, lambda n: n == 50, within=30) == 50
            lag = await eventually(probe.lag, lambda n: n == 0, within=15)
    finally:
        await probe.stop()
    assert lag == 0
