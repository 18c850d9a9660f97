"""Presence in the profile: the session now and the customer's pauses (profiles/presence.py)."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.profiles.merge import merge_fields
from stream_app.profiles.presence import (
    GAP_EDGES_MIN,
    GAP_FIELDS,
    SESSION_GAP_MS,
    Presence,
    mark_presence,
)

MINUTE = 60_000


def reference(times: list[int]) -> tuple[int, int, list[int]]:
    """Independently: last activity, start of its session, pauses per bucket."""
    ordered = sorted(set(times))
    counts = [0] * (len(GAP_EDGES_MIN) + 1)
    start = ordered[0]
    for before, after in pairwise(ordered):
        pause = after - before
        counts[sum(pause >= edge * MINUTE for edge in GAP_EDGES_MIN)] += 1
        if pause >= SESSION_GAP_MS:
            start = after
    return ordered[-1], start, counts


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3 * 24 * 60), min_size=1, max_size=40))
def test_in_time_order_the_fields_are_exact(minutes: list[int]) -> None:
    times = [m * MINUTE for m in minutes]
    fields: dict[str, int | float | str] = {}
    for ms in sorted(times):
        mark_presence(fields, ms)
    presence = Presence.of(fields)
    last, start, counts = reference(times)
    assert (presence.last_ms, presence.session_start_ms, list(presence.gaps)) == (
        last,
        start,
        counts,
    )


def test_a_late_activity_extends_its_session_and_adds_no_pause() -> None:
    fields: dict[str, int | float | str] = {}
    for minute in (0, 60, 70):
        mark_presence(fields, minute * MINUTE)
    mark_presence(fields, 45 * MINUTE)  # 15 min before the session that began at 60
    mark_presence(fields, 10 * MINUTE)  # 35 min before that: an older session, nothing
    presence = Presence.of(fields)
    assert (presence.session_start_ms, presence.last_ms) == (45 * MINUTE, 70 * MINUTE)
    assert sum(presence.gaps) == 2


def test_a_merge_adds_pauses_and_keeps_the_session_of_the_side_active_last() -> None:
    known: dict[str, int | float | str] = {}
    guest: dict[str, int | float | str] = {}
    for minute in (0, 1):
        mark_presence(known, minute * MINUTE)
    for minute in (600, 603, 610):
        mark_presence(guest, minute * MINUTE)
    for merged in (merge_fields(known, guest), merge_fields(guest, known)):
        presence = Presence.of(merged)
        assert (presence.session_start_ms, presence.last_ms) == (600 * MINUTE, 610 * MINUTE)
        assert sum(presence.gaps) == 3
        assert presence.in_session(620 * MINUTE)
        assert not presence.in_session(641 * MINUTE)


def test_no_activity_reads_as_unknown() -> None:
    presence = Presence.of({"n": 3})
    assert (presence.last_ms, presence.session_start_ms) == (None, None)
    assert presence.gaps == (0,) * len(GAP_FIELDS)
    assert not presence.in_session(0)
