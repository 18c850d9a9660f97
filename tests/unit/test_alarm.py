"""The timer's alarm: a check armed while the timer works is not slept through."""

from __future__ import annotations

from stream_app.streaming.timers import Alarm


def test_a_check_armed_during_a_claim_shortens_the_next_sleep() -> None:
    alarm = Alarm()
    alarm.working()
    alarm.ring(5_000)  # the claim in flight did not see it
    alarm.ring(6_000)
    assert alarm.sleeping_until(9_000) == 5_000
    assert not alarm.rung.is_set()


def test_a_sleeping_timer_wakes_only_for_an_earlier_check_or_a_look_again() -> None:
    alarm = Alarm()
    alarm.working()
    assert alarm.sleeping_until(None) is None  # nothing scheduled, nothing armed
    alarm.ring(7_000)
    assert alarm.rung.is_set(), "anything beats sleeping until nothing"
    alarm.working()
    alarm.sleeping_until(5_000)
    alarm.ring(7_000)
    assert not alarm.rung.is_set()
    alarm.ring(4_000)
    assert alarm.rung.is_set()
    alarm.working()
    alarm.sleeping_until(5_000)
    alarm.ring()
    assert alarm.rung.is_set(), "a rebalance: look again now"


def test_what_was_armed_is_forgotten_once_slept_on() -> None:
    alarm = Alarm()
    alarm.working()
    alarm.ring(5_000)
    alarm.sleeping_until(9_000)
    alarm.working()
    assert alarm.sleeping_until(9_000) == 9_000
