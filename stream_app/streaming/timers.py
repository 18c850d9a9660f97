"""The worker's timer: sleeps until the earliest scheduled check is due, then runs it.

Checks (an idle cart, a decision's send time, a segment turning with time, the
end of an attribution window) live in Redis (``storage.schedule``), so they
survive restarts and rebalances. One loop per worker claims what is due, hands
it to the pass, and sleeps until the next due time, which the claim reports; the
pass wakes it when it arms something earlier. Drains never overlap. A rebalance
wakes it too (checks armed by a worker that left are then read), and
``max_sleep`` bounds a sleep as a last resort.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import timedelta

from stream_app.clock import Clock, to_ms
from stream_app.storage.schedule import Claimed, ScheduleStore
from stream_app.streaming.retry import RedisRetry

log = logging.getLogger(__name__)

Handler = Callable[[Claimed], Awaitable[object]]


class Alarm:
    """What wakes the timer: a check armed earlier than it sleeps until, or a rebalance."""

    def __init__(self) -> None:
        self.rung = asyncio.Event()
        #: The due time the timer sleeps until (-inf while it works: any ring counts).
        self.target_ms = -math.inf

    def ring(self, due_ms: int | None = None) -> None:
        """A check due at ``due_ms`` was armed (None: look again now)."""
        if due_ms is None or due_ms < self.target_ms:
            self.rung.set()


class Timer:
    def __init__(
        self,
        *,
        schedule: ScheduleStore,
        handle: Handler,
        alarm: Alarm,
        batch: int,
        lease: timedelta,
        max_sleep: timedelta,
        clock: Clock,
        retry: RedisRetry,
    ) -> None:
        self._schedule = schedule
        self._handle = handle
        self._alarm = alarm
        self._batch = batch
        self._lease_ms = int(lease.total_seconds() * 1000)
        self._max_sleep_s = max_sleep.total_seconds()
        self._clock = clock
        self._retry = retry
        self._stopping = False
        self._running: asyncio.Future[None] | None = None

    async def run(self) -> None:
        """Drain due checks, one batch at a time, until ``stop``."""
        self._running = asyncio.get_running_loop().create_future()
        try:
            await self._drain()
        finally:
            self._running.set_result(None)

    async def stop(self) -> None:
        """Finish the checks in hand, then return: called before the worker's producer
        stops, so their sends do not fail half-way (what is unclaimed waits in Redis)."""
        self._stopping = True
        self._alarm.rung.set()
        if self._running is not None:
            await asyncio.shield(self._running)

    async def _drain(self) -> None:
        alarm = self._alarm
        while not self._stopping:
            alarm.target_ms = -math.inf
            alarm.rung.clear()
            claimed = await self._retry(self._claim)
            if claimed.due:
                try:
                    await self._handle(claimed)
                except Exception:  # a bug in one check must not stop the timer: the
                    # leases expire and the checks are claimed again
                    log.exception("due checks failed: %s", sorted(claimed.due)[:5])
                    await asyncio.sleep(1.0)
            if len(claimed.due) >= self._batch:
                continue
            await self._sleep(claimed.next_ms)

    async def _claim(self) -> Claimed:
        return await self._schedule.claim(to_ms(self._clock()), self._batch, self._lease_ms)

    async def _sleep(self, next_ms: int | None) -> None:
        alarm = self._alarm
        wait_s = self._max_sleep_s
        if next_ms is not None:
            wait_s = min(wait_s, max(0.0, (next_ms - to_ms(self._clock())) / 1000))
        alarm.target_ms = math.inf if next_ms is None else next_ms
        if wait_s <= 0 or alarm.rung.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(alarm.rung.wait(), wait_s)
