"""Clean traffic made realistic for tests: duplicates, disorder and late events.

Producers retry (duplicates), clients and partitions interleave (small
disorder), and phones come back online long after the fact (late events).
``perturb`` adds all three to a clean stream, deterministically for a seed and
without changing any event, so a test can check that the engine's answer on
the perturbed stream equals its answer on the clean one. Pure: no I/O.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from stream_app.events.encode import record_key
from stream_app.events.registry import Event

#: A duplicate follows its original by 1 to this many positions; mostly soon (log-uniform).
DUPLICATE_MAX_POSITIONS = 300
#: A disordered event is held back by 1 to this many positions.
DISORDER_MAX_POSITIONS = 8
#: A late event is held back by this many positions at least...
LATE_MIN_POSITIONS = 50
#: ... and at most (log-uniform), unless its ``max_late`` bound releases it sooner.
LATE_MAX_POSITIONS = 5000


@dataclass(frozen=True, slots=True)
class _Held:
    release_at: int
    event: Event
    #: A first occurrence (may still get a duplicate), not itself a duplicate.
    first: bool


def perturb(
    events: Sequence[Event],
    *,
    seed: int,
    duplicate_share: float = 0.05,
    disorder_share: float = 0.05,
    max_disorder: timedelta = timedelta(seconds=5),
    late_share: float = 0.01,
    max_late: timedelta = timedelta(hours=2),
) -> list[Event]:
    """``events`` with some re-emitted later, some swapped, some delivered late.

    For input in event-time order (as the generator's), the bounds are exact:
    a disordered event trails the latest event time already emitted by at most
    ``max_disorder``, a late one by at most ``max_late`` (keep it within the
    engine's allowed lateness), and a late event always comes after a later
    event of its own record key (customer, or device), so it is late for that
    customer. Duplicates are the very same event (same ``event_id``), emitted
    after the original. Every event is emitted at least once, unchanged.
    """
    for name, share in (
        ("duplicate_share", duplicate_share),
        ("disorder_share", disorder_share),
        ("late_share", late_share),
    ):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} must be in [0, 1]")
    if max_disorder < timedelta(0) or max_late < timedelta(0):
        raise ValueError("max_disorder and max_late must be >= 0")
    rng = random.Random(f"perturb:{seed}")
    follower = _next_of_same_key(events)
    out = _Output(rng, duplicate_share)
    pinned: set[int] = set()  # followers of late events: emitted in place
    for position, event in enumerate(events):
        out.release(position, event.event_time)
        after = follower[position]
        if position in pinned:
            out.emit(event, position, first=True)
        elif (
            after is not None
            and event.event_time < events[after].event_time <= event.event_time + max_late
            and rng.random() < late_share
        ):
            pinned.add(after)
            delay = _log_uniform(rng, LATE_MIN_POSITIONS, LATE_MAX_POSITIONS)
            out.hold(event, max(after + 1, position + delay), event.event_time + max_late, True)
        elif rng.random() < disorder_share:
            delay = rng.randint(1, DISORDER_MAX_POSITIONS)
            out.hold(event, position + delay, event.event_time + max_disorder, True)
        else:
            out.emit(event, position, first=True)
    while out.held:  # the tail: releasing may hold new duplicates, hence the loop
        out.release(len(events), None)
    return out.events


class _Output:
    """The perturbed stream as it is emitted, and the events held back from it: each
    until its position comes, or sooner when the next event would leave it too late."""

    def __init__(self, rng: random.Random, duplicate_share: float) -> None:
        self._rng = rng
        self._duplicate_share = duplicate_share
        self.events: list[Event] = []
        self.held: dict[int, _Held] = {}
        self._by_release: list[tuple[int, int]] = []  # (release_at, ticket)
        #: (latest event time it may trail, ticket)
        self._by_deadline: list[tuple[datetime, int]] = []
        self._tickets = itertools.count()

    def hold(self, event: Event, release_at: int, deadline: datetime | None, first: bool) -> None:
        ticket = next(self._tickets)
        self.held[ticket] = _Held(release_at, event, first)
        heapq.heappush(self._by_release, (release_at, ticket))
        if deadline is not None:
            heapq.heappush(self._by_deadline, (deadline, ticket))

    def emit(self, event: Event, position: int, first: bool) -> None:
        """Emit ``event``; a first occurrence may be re-emitted later as a duplicate."""
        self.events.append(event)
        if first and self._rng.random() < self._duplicate_share:
            delay = _log_uniform(self._rng, 1, DUPLICATE_MAX_POSITIONS)
            self.hold(event, position + delay, None, first=False)

    def release(self, position: int, next_time: datetime | None) -> None:
        """Emit what is due at ``position``, and what must precede an event at ``next_time``."""
        by_deadline, by_release, held = self._by_deadline, self._by_release, self.held
        due: list[int] = []
        while by_deadline and (next_time is None or by_deadline[0][0] < next_time):
            due.append(heapq.heappop(by_deadline)[1])
        while by_release and (next_time is None or by_release[0][0] <= position):
            due.append(heapq.heappop(by_release)[1])
        for ticket in sorted({t for t in due if t in held}, key=lambda t: (held[t].release_at, t)):
            item = held.pop(ticket)
            self.emit(item.event, position, item.first)


def _next_of_same_key(events: Sequence[Event]) -> list[int | None]:
    """For each position, the position of the next event with the same record key."""
    follower: list[int | None] = [None] * len(events)
    last: dict[bytes, int] = {}
    for position in range(len(events) - 1, -1, -1):
        key = record_key(events[position])
        follower[position] = last.get(key)
        last[key] = position
    return follower


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    """An integer in ``[low, high]``, small ones likelier: most retries come soon."""
    return min(high, int(math.exp(rng.uniform(math.log(low), math.log(high + 1)))))
