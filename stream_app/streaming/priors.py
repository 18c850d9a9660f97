"""Send-time priors as the decider needs them: learned ones cached, layered per customer.

Learned priors (everyone's, each segment's) move over days, so they are read at
most once a minute, and only when a pass has something to decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from datetime import datetime, timedelta

from stream_app.decisions.planner import Rules
from stream_app.decisions.timing import layered_prior
from stream_app.storage.priors import EVERYONE, PriorStore
from stream_app.streaming.retry import RedisRetry

#: Learned send-time priors move over days; re-read them at most this often.
PRIOR_REFRESH = timedelta(minutes=1)


class PriorCache:
    def __init__(self, *, store: PriorStore, rules: Rules, retry: RedisRetry) -> None:
        self._store = store
        self._rules = rules
        self._retry = retry
        self._cache: dict[str, tuple[float, ...]] = {}
        self._read_at: datetime | None = None

    async def ensure(self, segments: Iterable[str], now: datetime) -> None:
        """Have the priors of ``segments`` and everyone's, read again when stale."""
        names = {EVERYONE, *segments}
        stale = self._read_at is None or now - self._read_at > PRIOR_REFRESH
        missing = sorted(names - self._cache.keys())
        if not stale and not missing:
            return
        wanted = sorted(names | self._cache.keys()) if stale else missing
        self._cache.update(await self._retry(lambda: self._store.read(wanted, now)))
        if stale:
            self._read_at = now

    def layered(self, members: Set[str]) -> tuple[float, ...]:
        """A customer's prior: their segments', everyone's, the typical day (``ensure``
        must have been awaited for ``members``)."""
        rules = self._rules
        return layered_prior(
            [self._cache[s] for s in sorted(members)],
            self._cache[EVERYONE],
            rules.timing_prior,
            rules.timing_layer_strength,
        )
