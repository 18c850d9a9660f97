"""Redis full mid-stream (``maxmemory``, ``noeviction``): the worker pauses, loses and
dead-letters nothing, the API reads on and answers writes with 503; once memory is freed
the worker resumes by itself and every event is applied exactly once.

A Redis and a worker of their own. Memory is filled by a filler key and a ``maxmemory``
set below what is used, so Redis is firmly over the limit until the filler is deleted.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from stream_app.api import create_app
from stream_app.api.breaker import FULL_RETRY_AFTER_S, RedisFullError
from stream_app.api.scopes import Scope
from stream_app.devstack.ports import free_port
from stream_app.devstack.redis_server import RedisServer
from stream_app.devstack.workers import worker_process
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.storage.layout import Keys
from stream_app.storage.stats import StatsStore
from stream_app.streaming.lag import LagProbe, Position
from tests.integration.api_support import client, new_key, running
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import (
    customers_per_partition,
    event_counts,
    eventually,
    isolated,
    partition_of,
    produce,
    read_to_end,
)
from tests.integration.test_redis_outage import views

pytestmark = pytest.mark.integration

CUSTOMERS_PER_PARTITION = 6
EVENTS_EACH = 20  # half before Redis is full, half while it is
FILLER_MB = 8
NOEVICTION = ("--maxmemory", "256mb", "--maxmemory-policy", "noeviction")


async def worker_metric(port: int, name: str) -> float | None:
    """One sample of the worker's ``/metrics`` (None while it is not served)."""
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    except httpx.HTTPError:
        return None
    samples = (s for family in text_string_to_metric_families(text) for s in family.samples)
    return next((s.value for s in samples if s.name == name), None)


async def fill(redis: Redis) -> None:
    """A filler key of ``FILLER_MB``, then a limit half of it below what is used."""
    for _ in range(FILLER_MB):
        await redis.append("filler", b"x" * 1_048_576)
    used = int((await redis.info("memory"))["used_memory"])
    await redis.config_set("maxmemory", used - FILLER_MB * 1_048_576 // 2)


def applied_up_to(
    positions: list[Position], offsets: dict[tuple[int, int], tuple[str, int]], n: dict[str, int]
) -> list[str]:
    """Records below a committed offset whose event is not in its profile (must be none):
    each customer's events are applied in order, so event k is in iff k < its count."""
    return [
        f"{p.partition}@{offset}"
        for p in positions
        for offset in range(p.committed)
        if (found := offsets.get((p.partition, offset))) is not None
        and found[1] >= n.get(found[0], 0)
    ]


async def test_a_full_redis_pauses_the_worker_and_loses_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    logs = Path(ARTIFACTS) / "logs"
    server = RedisServer(logs, extra_args=NOEVICTION).start()
    own, run = isolated(settings, "f", tmp_path / "faust")
    port = free_port()
    mine = own.updated(redis={"url": server.url, "retry_max_s": 0.5}, metrics={"port": port})
    await ensure_topics(mine)
    partitions = mine.kafka.topic_partitions
    customers = [
        c
        for group in customers_per_partition(
            f"full-{run}", partitions, CUSTOMERS_PER_PARTITION
        ).values()
        for c in group
    ]
    total = len(customers) * EVENTS_EACH
    half = EVENTS_EACH // 2
    keys = Keys(mine.redis.key_prefix)
    admin = Redis.from_url(server.url)
    stats = StatsStore(admin, keys)
    probe = LagProbe(mine, [mine.topics.clickstream])
    offsets: dict[tuple[int, int], tuple[str, int]] = {}

    async def send(start: int, stop: int) -> None:
        records = views(customers, start, stop)
        for (key, _), offset, k in zip(
            records,
            await produce(mine, mine.topics.clickstream, records),
            [k for k in range(start, stop) for _ in customers],
            strict=True,
        ):
            offsets[(partition_of(key, partitions), offset)] = (key.decode(), k)

    async def counts() -> dict[str, int]:
        found = await event_counts(admin, keys, customers)
        return {c: found[c].get("n", 0) for c in customers}

    try:
        token = await new_key(admin, mine, Scope.ADMIN, now=datetime.now(UTC))
        with worker_process(mine, logs, name="full") as worker:
            await probe.start()
            await send(0, half)
            await eventually(stats.read, lambda s: s.get("events_applied", 0) > 0, within=60)

            await fill(admin)  # mid-stream: part of the first half may still be in flight
            await send(half, EVENTS_EACH)
            paused = await eventually(
                lambda: worker_metric(port, "stream_app_redis_full"), lambda v: v == 1, within=30
            )
            assert paused == 1, "the worker shows it is paused by a full Redis"
            before = await probe.positions()
            await asyncio.sleep(3)
            during = await probe.positions()
            assert worker.running, "a full Redis must not kill the worker"
            assert [p.committed for p in during] == [p.committed for p in before], "paused"
            assert sum(p.lag for p in during) > 0, "records wait on the broker"
            assert applied_up_to(during, offsets, await counts()) == [], "committed = applied"
            assert (await worker_metric(port, "stream_app_redis_writes_refused_total") or 0) > 0

            app = create_app(mine.updated(api={"breaker_failures": 2}))
            async with running(app), client(app, token) as http:
                assert (await http.get("/v1/segments")).status_code == 200, "reads go on"
                assert (await http.get("/ready")).json() == {"status": "read_only"}
                refused = await http.delete(f"/v1/customers/nobody-{run}")
                assert refused.status_code == 503, refused.text
                assert refused.headers["Retry-After"] == str(FULL_RETRY_AFTER_S)
                assert refused.json() == {"detail": RedisFullError.detail}
                assert (await http.get("/v1/segments")).status_code == 200, "no breaker opened"

                await admin.delete("filler")  # memory freed: nobody restarts anything

                def accounted(s: dict[str, int]) -> bool:
                    return s.get("events_applied", 0) + s.get("events_duplicate", 0) >= total

                final = await eventually(stats.read, accounted, within=60)
                assert (await http.delete(f"/v1/customers/nobody-{run}")).status_code == 202
                assert (await http.get("/ready")).json() == {"status": "ready"}
            resumed = await eventually(
                lambda: worker_metric(port, "stream_app_redis_full"), lambda v: v == 0, within=10
            )
        assert resumed == 0
        assert final.get("events_applied", 0) + final.get("events_duplicate", 0) == total, final
        assert Counter((await counts()).values()) == {EVENTS_EACH: len(customers)}, "each once"
        assert await read_to_end(mine, [mine.topics.deadletter]) == [], "nothing dead-lettered"
        log = worker.log_path.read_text(encoding="utf-8", errors="replace")
        log = log.rsplit("--- starting", 1)[-1]  # this run's lines (the file is appended to)
        assert log.count("redis full, writes refused") == 1, "logged once per episode"
        assert log.count("redis has room again") == 1
    finally:
        await probe.stop()
        await admin.aclose()
        server.stop()
