"""What the worker reports besides its batches: lag per partition, stalls, the schedule's
depth and overdue checks, and the model's quality, read every few seconds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from stream_app.clock import Clock, to_ms
from stream_app.metrics.engine import EngineMetrics
from stream_app.metrics.stall import StallTracker
from stream_app.storage.schedule import ScheduleStore
from stream_app.streaming.lag import LagProbe
from stream_app.streaming.learning import Learner

log = logging.getLogger(__name__)

#: A check due longer ago than this is overdue (the scheduler runs every second).
OVERDUE_AFTER = timedelta(minutes=1)


class WorkerProbe:
    def __init__(
        self,
        metrics: EngineMetrics,
        lag: Callable[[], LagProbe],
        schedule: ScheduleStore,
        learner: Learner,
        stall_after: timedelta,
        clock: Clock,
    ) -> None:
        """``lag`` builds the lag probe once the event loop runs (aiokafka needs one)."""
        self._metrics = metrics
        self._make_lag = lag
        self._lag: LagProbe | None = None
        self._schedule = schedule
        self._learner = learner
        self._stalls = StallTracker(stall_after)
        self._clock = clock
        self._stalled: set[str] = set()
        self._started = False

    async def start(self) -> None:
        """Connect the lag probe (its consumer reads the group's offsets, never joins it)."""
        self._lag = self._make_lag()
        await self._lag.start()
        self._started = True

    async def tick(self) -> None:
        """One round of readings; a failed reading is logged and skipped, never raised."""
        if not self._started or self._lag is None:
            return
        now = self._clock()
        try:
            positions = await self._lag.positions()
        except Exception:  # the broker may be away: metrics must not stop the worker
            log.exception("lag probe failed")
            positions = []
        for p in positions:
            labels = (p.topic, str(p.partition))
            self._metrics.consumer_lag.labels(*labels).set(p.lag)
            name = f"{p.topic}/{p.partition}"
            stalled = self._stalls.observe(name, committed=p.committed, lag=p.lag, now=now)
            self._metrics.partition_stalled.labels(*labels).set(1 if stalled else 0)
            if stalled and name not in self._stalled:
                log.warning("partition %s stalled: lag %d, committed %d", name, p.lag, p.committed)
            (self._stalled.add if stalled else self._stalled.discard)(name)
        try:
            due, _ = await self._schedule.depth()
            overdue = await self._schedule.overdue(to_ms(now - OVERDUE_AFTER))
        except Exception:  # Redis outages are the retrying code's business
            log.exception("schedule probe failed")
        else:
            self._metrics.scheduled.set(due)
            self._metrics.overdue.set(overdue)
        report = self._learner.validation.report()
        if report["labels"]:
            self._metrics.model(self._learner.model.version, report["auc"], report["log_loss"])
