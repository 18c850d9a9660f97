"""Which partitions are stalled: records waiting, and the group's committed offset has not
moved for ``stall_after``. Lag alone does not say it: a busy partition has lag too."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class StallTracker:
    """Feed it each partition's committed offset and lag as observed; ask who is stalled.

    >>> from datetime import UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> tracker = StallTracker(timedelta(seconds=60))
    >>> tracker.observe("p0", committed=10, lag=5, now=t0)
    False
    >>> tracker.observe("p0", committed=10, lag=7, now=t0 + timedelta(seconds=61))
    True
    >>> tracker.observe("p0", committed=12, lag=5, now=t0 + timedelta(seconds=62))  # moved
    False
    >>> tracker.observe("p1", committed=3, lag=0, now=t0 + timedelta(days=1))  # idle, fine
    False
    """

    stall_after: timedelta
    _since: dict[str, tuple[int, datetime]] = field(default_factory=dict)

    def observe(self, partition: str, *, committed: int, lag: int, now: datetime) -> bool:
        """Record an observation; True when the partition is stalled."""
        seen = self._since.get(partition)
        if seen is None or seen[0] != committed or lag <= 0:
            self._since[partition] = (committed, now)
            return False
        return now - seen[1] >= self.stall_after
