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
from dataclasses import dataclass, field
from datetime import timedelta

from stream_app.clock import Clock, to_ms
from stream_app.storage.schedule import Claimed, ScheduleStore
from stream_app.streaming.retry import RedisRetry

log = logging.getLogger(__name__)

Handler = Callable[[Claimed], Awaitable[object]]


class Alarm:
    """What wakes the timer: a check armed earlier than it sleeps until, or a rebalance.

    A check armed while the timer works (claims, runs checks) may be missing from what
    its claim saw of the schedule: the earliest such due time is kept, and the next
    sleep ends by then.

    >>> alarm = Alarm()
    >>> alarm.working(); alarm.ring(5_000)  # armed during a claim that did not see it
    >>> alarm.sleeping_until(9_000), alarm.rung.is_set()
    (5000, False)
    >>> alarm.ring(7_000), alarm.rung.is_set()  # later than the sleep: nothing to do
    (None, False)
    >>> alarm.ring(4_000), alarm.rung.is_set()
    (None, True)
    """

    def __init__(self) -> None:
        self.rung = asyncio.Event()
        self._working = False
        self._armed_ms: int | None = None
        self._until_ms = math.inf

    def working(self) -> None:
        """The timer claims and runs checks."""
        self._working, self._armed_ms = True, None
        self.rung.clear()

    def sleeping_until(self, due_ms: int | None) -> int | None:
        """The timer goes to sleep until ``due_ms`` (None: nothing is scheduled); returns
        when it must wake: earlier if a check was armed for earlier while it worked."""
        armed = self._armed_ms
        if armed is not None and (due_ms is None or armed < due_ms):
            due_ms = armed
        self._working = False
        self._until_ms = math.inf if due_ms is None else due_ms
        return due_ms

    def ring(self, due_ms: int | None = None) -> None:
        """A check due at ``due_ms`` was armed (None: look again now)."""
        if due_ms is None:
            self.rung.set()
        elif self._working:
            self._armed_ms = due_ms if self._armed_ms is None else min(self._armed_ms, due_ms)
        elif due_ms < self._until_ms:
            self.rung.set()


@dataclass
class Timer:
    """Claims due checks from ``schedule`` and hands them to ``handle``, a batch at a time."""

    schedule: ScheduleStore
    handle: Handler
    alarm: Alarm
    batch: int
    lease: timedelta
    max_sleep: timedelta
    clock: Clock
    retry: RedisRetry
    _stopping: bool = field(default=False, init=False)
    _running: asyncio.Future[None] | None = field(default=None, init=False)

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
        self.alarm.rung.set()
        if self._running is not None:
            await asyncio.shield(self._running)

    async def _drain(self) -> None:
        alarm = self.alarm
        while not self._stopping:
            alarm.working()
            claimed = await self.retry(self._claim)
            if claimed.due:
                try:
                    await self.handle(claimed)
                except Exception:  # a bug in one check must not stop the timer: the
                    # leases expire and the checks are claimed again
                    log.exception("due checks failed: %s", sorted(claimed.due)[:5])
                    await asyncio.sleep(1.0)
            if len(claimed.due) >= self.batch:
                continue
            await self._sleep(claimed.next_ms)

    async def _claim(self) -> Claimed:
        return await self.schedule.claim(
            to_ms(self.clock()), self.batch, int(self.lease.total_seconds() * 1000)
        )

    async def _sleep(self, next_ms: int | None) -> None:
        alarm = self.alarm
        due_ms = alarm.sleeping_until(next_ms)
        wait_s = self.max_sleep.total_seconds()
        if due_ms is not None:
            wait_s = min(wait_s, max(0.0, (due_ms - to_ms(self.clock())) / 1000))
        if wait_s <= 0 or alarm.rung.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(alarm.rung.wait(), wait_s)
