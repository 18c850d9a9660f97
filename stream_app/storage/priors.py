"""Learned send-time priors: everyone's and each segment's activity by local hour of day,
and everyone's presence (``PRESENCE``).

Each is a decayed sum of customers' hour-of-day shares, added as segments are
evaluated, so a prior follows the population as it changes (half-life
``STREAM_APP_DECISIONS__TIMING_PRIOR_HALF_LIFE``). Sums are stored relative to a fixed
reference time, ``w * 2^((t - ref) / H)``, like the profile's decayed sums: no
read-modify-write, and readers only ever need the shape, never the scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from stream_app.clock import to_ms
from stream_app.storage.client import RedisClient
from stream_app.storage.commit import Writes
from stream_app.storage.layout import Keys

#: Reference time of the stored sums.
REFERENCE_MS = to_ms(datetime(2026, 1, 1, tzinfo=UTC))
#: The prior of everyone (segment names are identifiers; this one cannot clash).
EVERYONE = "*"
#: Everyone's presence: pause shares by bucket, then sessions a week, summed over
#: customers (``decisions.moments.presence_sums``); cannot clash either.
PRESENCE = "~presence"


class PriorStore:
    def __init__(self, client: RedisClient, keys: Keys, *, half_life: timedelta) -> None:
        self._client = client
        self._keys = keys
        self._half_life_ms = half_life.total_seconds() * 1000

    def add(self, writes: Writes, sums: Mapping[str, Sequence[float]], now: datetime) -> None:
        """Add sums to the named priors: 24-hour shares (``EVERYONE`` or a segment) or the
        presence sums (``PRESENCE``)."""
        weight = 2.0 ** ((to_ms(now) - REFERENCE_MS) / self._half_life_ms)
        for name, hours in sums.items():
            for hour, value in enumerate(hours):
                if value > 0:
                    added = repr(value * weight)  # in full: Lua would print 14 digits
                    writes.add("HINCRBYFLOAT", self._keys.prior(name), str(hour), added)

    async def read(self, names: Sequence[str], now: datetime) -> dict[str, tuple[float, ...]]:
        """The named priors as they weigh now (in customer-evaluations; zeros if none), as
        24 values (the presence prior in the first nine)."""
        weight = 2.0 ** ((to_ms(now) - REFERENCE_MS) / self._half_life_ms)
        pipe = self._client.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self._keys.prior(name))
        out = {}
        for name, raw in zip(names, await pipe.execute(), strict=True):
            hours = [0.0] * 24
            for hour, value in raw.items():
                hours[int(hour)] = float(value) / weight
            out[name] = tuple(hours)
        return out
