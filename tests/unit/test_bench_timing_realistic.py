"""bench.timing_realistic's pure helpers: which sessions fire triggers, and the oracle's send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench.timing_realistic import arguments, measure, oracle_send, trigger_times
from stream_app.simulation.activity import ActiveSession, active_within

T0 = datetime(2026, 6, 1, 10, tzinfo=UTC)  # a Monday, 10:00 UTC = 12:00 in Berlin


def _session(start_min: int, length_min: int) -> ActiveSession:
    start = T0 + timedelta(minutes=start_min)
    return ActiveSession((start, start + timedelta(minutes=length_min)))


def test_triggers_fire_after_sessions_and_inside_long_ones_only_in_the_range() -> None:
    truth = [_session(0, 5), _session(60, 40), _session(600, 2)]
    end = T0 + timedelta(hours=6)
    after = trigger_times(truth, "after", T0, end)
    assert after == [T0 + timedelta(minutes=35), T0 + timedelta(minutes=130)]  # 10:35 is out
    assert trigger_times(truth, "mid", T0, end) == [T0 + timedelta(minutes=90)]
    with pytest.raises(ValueError, match="unknown protocol"):
        trigger_times(truth, "later", T0, end)


def test_oracle_sends_at_the_first_moment_that_hits_and_respects_quiet_hours() -> None:
    truth = [_session(180, 10), _session(300, 10)]
    plan = oracle_send(truth, T0, timedelta(hours=12), "Europe/Berlin")
    assert plan is not None
    assert plan.send_at == T0 + timedelta(minutes=150)
    assert active_within(truth, plan.send_at)
    assert oracle_send(truth, T0, timedelta(hours=2), "Europe/Berlin") is None  # out of reach
    # 21:00 UTC is 23:00 in Berlin, inside the 22-8 quiet hours: nothing allowed hits.
    night = [_session(11 * 60, 20)]
    assert oracle_send(night, T0, timedelta(hours=12), "Europe/Berlin") is None
    # The same session in UTC (21:00 local, allowed): 30 min before it starts.
    plan = oracle_send(night, T0, timedelta(hours=12), "UTC")
    assert plan is not None
    assert plan.send_at == T0 + timedelta(minutes=630)


def test_a_small_run_reports_every_key_and_the_oracles_bound_the_strategies() -> None:
    figures = measure(arguments().parse_args(["--customers", "150", "--seed", "3"]))
    for prefix in ("timing.realistic", "timing.realistic_4h", "timing.realistic_in_session"):
        rates = {n: figures[f"{prefix}.{n}_hit_rate"] for n in ("now", "engine", "oracle")}
        assert rates["oracle"] >= max(rates["now"], rates["engine"])
        assert figures[f"{prefix}.best_baseline_hit_rate"] >= rates["now"]
        assert 0 <= figures[f"{prefix}.engine_conversion"] <= 0.3 * rates["engine"] + 1e-9
        assert figures[f"{prefix}.triggers"] > 0
    for prefix in ("timing.realistic", "timing.realistic_4h"):  # after a session only
        assert figures[f"{prefix}.oracle_hit_rate"] >= figures[f"{prefix}.process_oracle_hit_rate"]
    assert "timing.realistic_in_session.process_oracle_hit_rate" not in figures
