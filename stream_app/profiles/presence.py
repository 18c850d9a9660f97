"""Presence: whether the customer is here now, and how their activity spaces out
(docs/profile.md, "Presence").

Real shoppers come in bursts: events seconds apart, a pause, a return a few minutes
later, then nothing for days. A send planned from hour-of-day shares alone defers a
message out of a session that is still going (issue 17). So every activity event
(the rhythm's: clickstream, purchase, opened, clicked) also keeps, in the profile's
fields:

* ``ss``: when the current session started (a pause of ``SESSION_GAP_MS`` or more
  starts a new one), stamped ``@ss`` with the latest activity: the last-writer-wins
  stamp is the last time the customer was active, and a merge keeps the session of
  the side active last;
* ``sv``: sessions, decayed with a half-life of two days, as of ``@ss``: how busy the
  customer is these days (interest comes in spells);
* ``gap:<i>``: how many times the pause before an activity fell in bucket ``i`` of
  ``GAP_EDGES_MIN``: the customer's own distribution of pauses, from a few seconds
  inside a session to the days between visits (counts add on a merge).

These are statistics of arrival, not facts of the event set: an activity older than
the latest one only extends the session it falls in and adds no pause (it would split
one already counted), so unlike the rest of the profile they depend on the order in
which a customer's events arrive (exact when they arrive in time order, as a
customer's keyed records mostly do). ``PRESENCE_FIELDS`` names them for the claims and
tests of order independence.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass

from stream_app.clock import from_ms

#: Upper edges (minutes) of the pause buckets; the last bucket (4 h and more) holds the
#: pauses between visits on different occasions: what the rhythm, not the pause, times.
GAP_EDGES_MIN = (2, 5, 15, 30, 60, 120, 240)
GAP_FIELDS = tuple(f"gap:{i}" for i in range(len(GAP_EDGES_MIN) + 1))
_EDGES_MS = tuple(edge * 60_000 for edge in GAP_EDGES_MIN)
#: The fields kept in arrival order (everything else in a profile is order-independent).
PRESENCE_FIELDS = frozenset({"ss", "@ss", "sv", *GAP_FIELDS})
#: Half-life of the recent sessions count ``sv``: interest comes in spells of days.
SESSIONS_HALF_LIFE_MS = 2 * 86_400_000
#: A pause this long ends a session (the web-analytics convention).
SESSION_GAP_MS = 30 * 60_000


def mark_presence(fields: dict[str, int | float | str], ms: int) -> None:
    """Note an activity at ``ms`` (epoch ms) in ``fields``.

    >>> f = {}
    >>> for at in (0, 40_000, 100_000, 100_000 + 45 * 60_000):  # 40 s, 1 min, 45 min
    ...     mark_presence(f, at)
    >>> f["ss"], f["@ss"], [f.get(name, 0) for name in GAP_FIELDS]
    (2800000, 2800000, [2, 0, 0, 0, 1, 0, 0, 0])
    >>> mark_presence(f, 2_000_000)  # late, 13 min before: extends that session
    >>> f["ss"], f["@ss"]
    (2000000, 2800000)
    """
    last = fields.get("@ss")
    if not isinstance(last, int):
        fields["ss"] = fields["@ss"] = ms
        fields["sv"] = 1.0
        return
    if ms <= last:
        start = fields.get("ss")
        if isinstance(start, int) and start - SESSION_GAP_MS < ms < start:
            fields["ss"] = ms
        return
    gap = ms - last
    name = GAP_FIELDS[bisect_right(_EDGES_MS, gap)]
    fields[name] = int(fields.get(name, 0)) + 1
    fields["@ss"] = ms
    if gap >= SESSION_GAP_MS:
        fields["ss"] = ms
        held = fields.get("sv")
        recent = float(held) if isinstance(held, int | float) else 0.0
        fields["sv"] = float(f"{recent * 2.0 ** (-gap / SESSIONS_HALF_LIFE_MS) + 1.0:.10g}")


@dataclass(frozen=True, slots=True)
class Presence:
    """What the profile knows of the customer's activity: last active, the session's
    start (epoch ms, None before any activity), the pause counts per bucket and the
    recent sessions."""

    last_ms: int | None
    session_start_ms: int | None
    gaps: tuple[int, ...]
    #: Sessions decayed to ``last_ms`` (``SESSIONS_HALF_LIFE_MS``).
    recent_sessions: float = 0.0

    @classmethod
    def of(cls, fields: Mapping[str, object]) -> Presence:
        """Read from stored fields.

        >>> Presence.of({"ss": 5, "@ss": 9, "gap:0": 3}).gaps[:2]
        (3, 0)
        """
        last, start = fields.get("@ss"), fields.get("ss")
        return cls(
            last if isinstance(last, int) else None,
            start if isinstance(start, int) else None,
            tuple(_count(fields.get(name)) for name in GAP_FIELDS),
            float(recent) if isinstance(recent := fields.get("sv"), int | float) else 0.0,
        )

    def summary(self, now_ms: int) -> dict[str, object]:
        """For the profile API and support: is the customer here, since when, last seen.

        >>> Presence(600_000, 0, (0,) * 8).summary(900_000)["in_session"]
        True
        """
        here = self.in_session(now_ms)
        return {
            "in_session": here,
            "session_started": _iso(self.session_start_ms) if here else None,
            "last_active": _iso(self.last_ms),
        }

    def in_session(self, now_ms: int) -> bool:
        """Whether the session is still open at ``now_ms`` (the pause so far is short)."""
        return self.last_ms is not None and 0 <= now_ms - self.last_ms < SESSION_GAP_MS


def _count(value: object) -> int:
    return int(value) if isinstance(value, int | str) else 0


def _iso(ms: int | None) -> str | None:
    return None if ms is None else from_ms(ms).isoformat()
