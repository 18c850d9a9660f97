"""Perturbation: same events, some repeated, some out of order, some late, within bounds."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest

from stream_app.events.encode import record_key
from stream_app.events.registry import Event
from stream_app.simulation.catalog import make_catalog
from stream_app.simulation.generator import EventGenerator
from stream_app.simulation.perturb import DUPLICATE_MAX_POSITIONS, perturb
from stream_app.simulation.population import make_population

START = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
N = 6000
CLEAN: list[Event] = [
    event
    for _, event in islice(
        EventGenerator(make_population(60, seed=7), make_catalog(seed=7), 7, START, 50.0), N
    )
]
SHARES = {"duplicate_share": 0.05, "disorder_share": 0.05, "late_share": 0.02}


def first_occurrences(events: list[Event]) -> list[tuple[int, Event]]:
    seen: set[str] = set()
    firsts = []
    for position, event in enumerate(events):
        if event.event_id not in seen:
            seen.add(event.event_id)
            firsts.append((position, event))
    return firsts


def trailing(events: list[Event]) -> list[tuple[float, float]]:
    """Per first occurrence: seconds behind the latest event time emitted before it,
    overall and for its own record key (0 when not behind)."""
    high: datetime | None = None
    by_key: dict[bytes, datetime] = {}
    out = []
    for _, event in first_occurrences(events):
        key = record_key(event)
        overall = 0.0 if high is None else max(0.0, (high - event.event_time).total_seconds())
        own = by_key.get(key)
        mine = 0.0 if own is None else max(0.0, (own - event.event_time).total_seconds())
        out.append((overall, mine))
        high = event.event_time if high is None else max(high, event.event_time)
        by_key[key] = event.event_time if own is None else max(own, event.event_time)
    return out


def test_every_event_is_kept_unchanged_and_duplicates_come_after_their_original() -> None:
    out = perturb(CLEAN, seed=1, **SHARES)
    originals = {id(event) for event in CLEAN}
    assert all(id(event) in originals for event in out), "events are re-used, never rebuilt"
    counts = Counter(event.event_id for event in out)
    assert set(counts) == {event.event_id for event in CLEAN}
    extra = len(out) - N
    assert 0.03 * N < extra < 0.07 * N
    first_at = {event.event_id: position for position, event in first_occurrences(out)}
    gaps = [
        position - first_at[event.event_id]
        for position, event in enumerate(out)
        if position != first_at[event.event_id]
    ]
    assert len(gaps) == extra
    assert min(gaps) >= 1
    assert max(gaps) <= 2 * DUPLICATE_MAX_POSITIONS
    assert any(gap <= 5 for gap in gaps)
    assert any(gap >= 50 for gap in gaps)


@pytest.mark.parametrize("max_late", [timedelta(hours=2), timedelta(seconds=10)])
def test_disorder_and_lateness_stay_within_their_bounds(max_late: timedelta) -> None:
    max_disorder = timedelta(seconds=1)
    out = perturb(CLEAN, seed=2, max_disorder=max_disorder, max_late=max_late, **SHARES)
    behind = trailing(out)
    assert max(overall for overall, _ in behind) <= max_late.total_seconds()
    disordered = [o for o, _ in behind if 0 < o <= max_disorder.total_seconds()]
    late = [o for o, _ in behind if o > max_disorder.total_seconds()]
    assert len(disordered) > 0.02 * N
    assert 0.01 * N < len(late) < 0.03 * N
    assert all(own > 0 for o, own in behind if o > max_disorder.total_seconds()), (
        "a late event comes after a later event of its own customer"
    )


def test_the_clean_stream_is_in_order_so_every_disorder_comes_from_perturb() -> None:
    assert all(overall == 0 for overall, _ in trailing(CLEAN))


def test_zero_shares_change_nothing() -> None:
    out = perturb(CLEAN, seed=3, duplicate_share=0, disorder_share=0, late_share=0)
    assert out == CLEAN
    assert perturb([], seed=3) == []


def test_deterministic_by_seed() -> None:
    ids = [event.event_id for event in perturb(CLEAN, seed=4, **SHARES)]
    assert ids == [event.event_id for event in perturb(CLEAN, seed=4, **SHARES)]
    assert ids != [event.event_id for event in perturb(CLEAN, seed=5, **SHARES)]


@pytest.mark.parametrize(
    "bad",
    [
        {"duplicate_share": -0.1},
        {"disorder_share": 1.5},
        {"late_share": 2.0},
        {"max_disorder": timedelta(seconds=-1)},
        {"max_late": timedelta(seconds=-1)},
    ],
)
def test_rejects_impossible_settings(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        perturb(CLEAN[:10], seed=0, **bad)  # type: ignore[arg-type]
