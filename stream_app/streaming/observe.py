"""What the worker reports besides its batches: lag per partition, stalls, the schedule's
depth and overdue checks, and the model's quality, read every few seconds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from stream_app.clock import Clock, to_ms
from stream_app.metrics.engine import EngineMetrics
from stream_app.metrics.stall import StallTracker
from stream_app.storage.endpoints import EndpointStore
from stream_app.storage.full import refuses_writes
from stream_app.storage.schedule import ScheduleStore
from stream_app.streaming.lag import LagProbe
from stream_app.streaming.learning import Learner

log = logging.getLogger(__name__)

#: A check due longer ago than this is overdue (the scheduler runs every second).
OVERDUE_AFTER = timedelta(minutes=1)


@dataclass
class WorkerProbe:
    """Readings taken every few seconds: lag and stalls, the schedule's depth, the model.

    ``lag`` builds the lag probe once the event loop runs (aiokafka needs one)."""

    metrics: EngineMetrics
    lag: Callable[[], LagProbe]
    schedule: ScheduleStore
    learner: Learner
    stall_after: timedelta
    clock: Clock
    _probe: LagProbe | None = field(default=None, init=False)
    _stalled: set[str] = field(default_factory=set, init=False)
    _stalls: StallTracker = field(init=False)

    def __post_init__(self) -> None:
        self._stalls = StallTracker(self.stall_after)

    async def start(self) -> None:
        """Connect the lag probe (its consumer reads the group's offsets, never joins it)."""
        probe = self.lag()
        await probe.start()
        self._probe = probe

    async def tick(self) -> None:
        """One round of readings; a failed reading is logged and skipped, never raised."""
        if self._probe is None:
            return
        now = self.clock()
        try:
            positions = await self._probe.positions()
        except Exception:  # the broker may be away: metrics must not stop the worker
            log.exception("lag probe failed")
            positions = []
        for p in positions:
            labels = (p.topic, str(p.partition))
            self.metrics.consumer_lag.labels(*labels).set(p.lag)
            name = f"{p.topic}/{p.partition}"
            stalled = self._stalls.observe(name, committed=p.committed, lag=p.lag, now=now)
            self.metrics.partition_stalled.labels(*labels).set(1 if stalled else 0)
            if stalled and name not in self._stalled:
                log.warning("partition %s stalled: lag %d, committed %d", name, p.lag, p.committed)
            (self._stalled.add if stalled else self._stalled.discard)(name)
        try:
            due, _ = await self.schedule.depth()
            overdue = await self.schedule.overdue(to_ms(now - OVERDUE_AFTER))
        except Exception:  # Redis outages are the retrying code's business
            log.exception("schedule probe failed")
        else:
            self.metrics.scheduled.set(due)
            self.metrics.overdue.set(overdue)
        meta = self.learner.meta  # the figures of the snapshot this worker scores with
        if meta.get("labels"):
            self.metrics.model(self.learner.version, meta["auc"], meta["log_loss"])


@dataclass
class Announcer:
    """The worker's heartbeat in the endpoint registry, so the dashboard finds it.

    Silent until ``start`` (the metrics server is up: announcing a URL nobody serves
    would list a dead worker); a failed heartbeat is logged, the next one retries."""

    store: EndpointStore
    url: str | None
    clock: Clock
    _serving: bool = field(default=False, init=False)

    async def start(self) -> None:
        """The metrics server is up: announce now, then at every ``beat``."""
        self._serving = True
        await self.beat()

    async def beat(self) -> None:
        if not self._serving or self.url is None:
            return
        try:
            await self.store.announce(self.url, to_ms(self.clock()))
        except Exception as exc:  # Redis may be away: the registry must not stop the worker
            if not refuses_writes(exc):  # a full Redis is logged once, by the retry
                log.warning("metrics endpoint not announced: %s", exc)
