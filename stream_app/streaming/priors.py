"""Send-time priors as the decider needs them: learned ones cached, layered per customer;
everyone's presence (how soon customers come back) beside them.

Learned priors (everyone's, each segment's) move over days, so they are read at
most once a minute, and only when a pass has something to decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from datetime import datetime, timedelta

from stream_app.clock import ms_or_none, to_ms
from stream_app.decisions.moments import PresencePriors, learned_priors, presence_sums
from stream_app.decisions.planner import Rules
from stream_app.decisions.timing import daily_profile, layered_prior, prior_contributions
from stream_app.profiles.derive import ProfileView
from stream_app.profiles.presence import GAP_FIELDS
from stream_app.storage.commit import Writes
from stream_app.storage.priors import EVERYONE, PRESENCE, PriorStore
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
        self._presence = rules.presence

    async def ensure(self, segments: Iterable[str], now: datetime) -> None:
        """Have the priors of ``segments``, everyone's and everyone's presence, read again
        when stale."""
        names = {EVERYONE, PRESENCE, *segments}
        stale = self._read_at is None or now - self._read_at > PRIOR_REFRESH
        missing = sorted(names - self._cache.keys())
        if not stale and not missing:
            return
        wanted = sorted(names | self._cache.keys()) if stale else missing
        self._cache.update(await self._retry(lambda: self._store.read(wanted, now)))
        sums = self._cache[PRESENCE][: len(GAP_FIELDS) + 1]
        self._presence = learned_priors(sums, self._rules.presence)
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

    def presence(self) -> PresencePriors:
        """Everyone's presence as learned (as of the last ``ensure``), else the settings'
        prior: derived once per read, not per customer."""
        return self._presence

    def learn(
        self, writes: Writes, customers: Sequence[tuple[ProfileView, Set[str]]], now: datetime
    ) -> None:
        """Add what ``customers`` (view, segments) say to the learned priors: their hours
        to everyone's and their segments', their presence to everyone's."""
        if not customers:
            return
        hours = [(daily_profile(view.rhythm_local), members) for view, members in customers]
        sums = prior_contributions(hours, everyone=EVERYONE)
        presences = [(view.presence, ms_or_none(view.first_seen)) for view, _ in customers]
        sums[PRESENCE] = presence_sums(presences, to_ms(now))
        self._store.add(writes, sums, now)
