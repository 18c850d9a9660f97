"""The worker's metrics: engine counters land on the right labelled series."""

from __future__ import annotations

from collections import Counter

from prometheus_client import CollectorRegistry

from stream_app.counts import Counts, DecisionCount, EventsIn, Labelled, Plain
from stream_app.metrics.engine import EngineMetrics, observe_all
from stream_app.storage.statfields import as_stats


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_engine_counters_map_onto_labelled_series() -> None:
    registry = CollectorRegistry()
    metrics = EngineMetrics(registry)
    counts: Counts = Counter(
        {
            Labelled("dead_letters", "undecodable"): 2,
            Labelled("events_late", "purchase"): 6,
            EventsIn("clickstream", "add_to_cart"): 3,
            Labelled("events_dropped", "erased"): 1,
            DecisionCount("cart", "planned"): 5,
            DecisionCount("cart", "deferred"): 2,
            DecisionCount("cart", "emitted", "push"): 4,
            DecisionCount("cart", "holdout"): 1,
            DecisionCount("cart", "suppressed", "quiet_hours"): 3,
            DecisionCount("cart", "cancelled", "goal_reached"): 1,
            DecisionCount("cart", "skipped_audience"): 7,  # no series: ignored
            Plain("model_drifts"): 1,
            Plain("tz_assumed"): 4,
            Plain("events_backfilled"): 8,
            Plain("segments_evaluated"): 9,  # no series: ignored
        }
    )
    metrics.count(counts)
    assert value(registry, "stream_app_dead_letters_total", reason="undecodable") == 2
    assert value(registry, "stream_app_events_late_total", stream="purchase") == 6
    assert value(registry, "stream_app_events_total", stream="clickstream", type="add_to_cart") == 3
    assert value(registry, "stream_app_events_dropped_total", why="erased") == 1
    assert value(registry, "stream_app_events_backfilled_total") == 8
    outcome = "stream_app_decisions_total"
    assert value(registry, outcome, campaign="cart", channel="", outcome="planned") == 5
    assert value(registry, outcome, campaign="cart", channel="", outcome="deferred") == 2
    assert value(registry, outcome, campaign="cart", channel="push", outcome="sent") == 4
    assert value(registry, outcome, campaign="cart", channel="", outcome="holdout") == 1
    assert (
        value(registry, outcome, campaign="cart", channel="", outcome="suppressed:quiet_hours") == 3
    )
    assert (
        value(registry, outcome, campaign="cart", channel="", outcome="cancelled:goal_reached") == 1
    )
    assert value(registry, "stream_app_model_drifts_total") == 1
    assert value(registry, "stream_app_tz_assumed_total") == 4


def test_the_stats_hash_keeps_its_totals_beside_the_per_campaign_fields() -> None:
    counts: Counts = Counter(
        {
            DecisionCount("cart", "planned"): 2,
            DecisionCount("win", "planned"): 1,
            DecisionCount("cart", "suppressed", "cap_day"): 1,
            EventsIn("clickstream", "search"): 4,
        }
    )
    assert as_stats(counts) == {
        "decisions_planned": 3,
        "decisions_planned:cart": 2,
        "decisions_planned:win": 1,
        "decisions_suppressed:cap_day": 1,
        "decisions_suppressed:cart:cap_day": 1,
        "events_in:clickstream": 4,
        "events_type:clickstream:search": 4,
    }


def test_model_figures_keep_one_version() -> None:
    registry = CollectorRegistry()
    metrics = EngineMetrics(registry)
    metrics.model("lr-g1", auc=0.7, log_loss=0.4)
    metrics.model("lr-g2", auc=0.75, log_loss=0.38)
    assert value(registry, "stream_app_model_auc") == 0.75
    assert value(registry, "stream_app_model_info", version="lr-g2") == 1
    assert value(registry, "stream_app_model_info", version="lr-g1") is None


def test_observing_many_values_at_once_equals_observing_them_one_by_one() -> None:
    values = [0.0, 0.0005, 0.001, 0.003, 0.3, 7.0, 9999.0]
    one_by_one, at_once = CollectorRegistry(), CollectorRegistry()
    first = EngineMetrics(one_by_one).apply_latency
    for v in values:
        first.observe(v)
    observe_all(EngineMetrics(at_once).apply_latency, values)
    name = "stream_app_event_apply_latency_seconds"
    for bound in ("0.001", "0.005", "0.5", "10.0", "+Inf"):
        sample = f"{name}_bucket"
        assert at_once.get_sample_value(sample, {"le": bound}) == one_by_one.get_sample_value(
            sample, {"le": bound}
        )
    assert at_once.get_sample_value(f"{name}_sum") == one_by_one.get_sample_value(f"{name}_sum")
