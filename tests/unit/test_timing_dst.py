"""Send times across DST jumps (issue 16, item 3): no send lands in a local hour the clocks
skip, and an hour lived twice is used once, whatever the trigger's minute, the quiet
hours or the customer's best hour; Newfoundland (-03:30, with DST) for a 30-minute zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from stream_app.decisions.quiet import QuietHours
from stream_app.decisions.timing import HOURS_PER_DAY, SendPlan, plan_send

BERLIN = ZoneInfo("Europe/Berlin")
ST_JOHNS = ZoneInfo("America/St_Johns")
#: (zone, the UTC instant clocks jump, the local hour that does not exist that day)
SPRING = [
    (BERLIN, datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 2),  # 02:00 CET -> 03:00 CEST
    (ST_JOHNS, datetime(2026, 3, 8, 5, 30, tzinfo=UTC), 2),  # 02:00 NST -> 03:00 NDT
]
#: (zone, the UTC instant clocks fall back, the local hour lived twice)
AUTUMN = [
    (BERLIN, datetime(2026, 10, 25, 1, 0, tzinfo=UTC), 2),  # 03:00 CEST -> 02:00 CET
    (ST_JOHNS, datetime(2026, 11, 1, 4, 30, tzinfo=UTC), 1),  # 02:00 NDT -> 01:00 NST
]
QUIET = [None, QuietHours(22, 8), QuietHours(0, 2), QuietHours(1, 3), QuietHours(2, 3)]


def _peak(hour: int) -> list[float]:
    return [1.0 if h == hour else 0.1 for h in range(HOURS_PER_DAY)]


def _plan(trigger: datetime, zone: ZoneInfo, best: int, quiet: QuietHours | None) -> SendPlan:
    """The plan of a 12-hour window from ``trigger`` for a customer whose hour is ``best``."""
    plan = plan_send(
        earliest=trigger,
        latest=trigger + timedelta(hours=12),
        timezone=zone.key,
        hourly=_peak(best),
        quiet=quiet,
    )
    assert plan is not None
    return plan


def _triggers(jump: datetime) -> list[datetime]:
    """Every 10 minutes from 4 h before the jump to 2 h after, odd seconds included."""
    return [jump + timedelta(minutes=m, seconds=7) for m in range(-240, 121, 10)]


def _is_real_wall_time(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether ``moment``'s wall clock in ``zone`` maps back to the same instant."""
    wall = moment.astimezone(zone)
    naive = wall.replace(tzinfo=None)
    return any(naive.replace(tzinfo=zone, fold=fold).astimezone(UTC) == moment for fold in (0, 1))


@pytest.mark.parametrize(("zone", "jump", "skipped"), SPRING)
@pytest.mark.parametrize("quiet", QUIET)
def test_no_send_in_the_skipped_hour(
    zone: ZoneInfo, jump: datetime, skipped: int, quiet: QuietHours | None
) -> None:
    for best in (skipped, skipped + 1, 9):
        for trigger in _triggers(jump):
            plan = _plan(trigger, zone, best, quiet)
            wall = plan.send_at.astimezone(zone)
            assert _is_real_wall_time(plan.send_at, zone)
            assert (plan.local_hour, plan.local_minute) == (wall.hour, wall.minute)
            if wall.date() == jump.astimezone(zone).date():
                assert wall.hour != skipped, (trigger, best, quiet, wall)
            if quiet is not None:
                assert not quiet.contains(wall)


@pytest.mark.parametrize(("zone", "jump", "repeated"), AUTUMN)
@pytest.mark.parametrize("quiet", QUIET)
def test_the_repeated_hour_is_used_once(
    zone: ZoneInfo, jump: datetime, repeated: int, quiet: QuietHours | None
) -> None:
    first = jump - timedelta(hours=1)  # the first time the wall clock shows the hour
    for trigger in _triggers(jump):
        plan = _plan(trigger, zone, repeated, quiet)
        wall = plan.send_at.astimezone(zone)
        if quiet is not None:
            assert not quiet.contains(wall)
        if quiet is not None and quiet.contains(first.astimezone(zone)):
            continue  # the hour is quiet: nothing to use twice
        if trigger < first:  # the hour ahead: its first occurrence, never the second
            assert plan.send_at == first, (trigger, quiet, wall)
        elif trigger < jump + timedelta(hours=1):  # inside it, either time: at once
            assert plan.send_at == trigger, (trigger, quiet, wall)


def test_a_half_hour_zone_defers_to_its_own_hour_start_across_the_jump() -> None:
    # 23:47 NST on Saturday 7 March; the best hour 09:00 is already NDT (-02:30).
    trigger = datetime(2026, 3, 8, 3, 17, tzinfo=UTC)
    plan = plan_send(
        earliest=trigger,
        latest=trigger + timedelta(hours=24),
        timezone=ST_JOHNS.key,
        hourly=_peak(9),
        quiet=QuietHours(22, 8),
    )
    assert plan is not None
    assert plan.send_at == datetime(2026, 3, 8, 11, 30, tzinfo=UTC)
    assert (plan.local_hour, plan.local_minute) == (9, 0)
