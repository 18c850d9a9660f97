"""Waiting for the worker to apply a load: until its consumer group has committed every
record on the inbound topics as of when the wait began.

The worker commits a record's offset only once its writes are in Redis, so a caught-up
group means every event sent before is applied (or dead-lettered, or a duplicate). The
engine's ``events_backfilled`` counter is shown beside it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from stream_app.settings import Settings
from stream_app.storage.configured import keys_of
from stream_app.storage.connection import redis_client
from stream_app.storage.stats import StatsStore
from stream_app.streaming.lag import LagProbe

#: How often the group's offsets and the counter are read.
POLL_S = 0.5


@dataclass(frozen=True, slots=True)
class Applying:
    """How far the worker is: of ``records`` to apply when the wait began, ``records_left``."""

    records: int
    records_left: int
    backfilled: int
    elapsed_s: float


async def wait_applied(settings: Settings, on_progress: Callable[[Applying], None]) -> Applying:
    """Return once the worker group committed every inbound record there is now;
    ``on_progress`` is told how far it is about every ``POLL_S``."""
    probe = LagProbe(settings, settings.topics.inbound())
    redis = redis_client(settings)
    counters = StatsStore(redis, keys_of(settings))
    started = time.monotonic()
    await probe.start()
    try:
        ends = {(p.topic, p.partition): (p.end, p.lag) for p in await probe.positions()}
        records = sum(lag for _, lag in ends.values())
        while True:
            positions, stats = await asyncio.gather(probe.positions(), counters.read())
            left = sum(
                max(0, ends[(p.topic, p.partition)][0] - p.committed)
                for p in positions
                if (p.topic, p.partition) in ends
            )
            applying = Applying(
                records, left, stats.get("events_backfilled", 0), time.monotonic() - started
            )
            on_progress(applying)
            if left == 0:
                return applying
            await asyncio.sleep(POLL_S)
    finally:
        await probe.stop()
        await redis.aclose()
