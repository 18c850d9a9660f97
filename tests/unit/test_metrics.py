"""The worker's metrics: engine counters land on the right labelled series."""

from __future__ import annotations

from collections import Counter

from prometheus_client import CollectorRegistry

from stream_app.metrics.engine import EngineMetrics


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_engine_counters_map_onto_labelled_series() -> None:
    registry = CollectorRegistry()
    metrics = EngineMetrics(registry)
    metrics.count(
        Counter(
            {
                "dead_letters:undecodable": 2,
                "events_type:clickstream:add_to_cart": 3,
                "events_dropped:erased": 1,
                "decisions_planned": 5,  # a total: its per-campaign parts are what counts
                "decisions_planned:cart": 5,
                "decisions_deferred:cart": 2,
                "decisions_emitted:cart:push": 4,
                "decisions_emitted:cart": 4,
                "decisions_holdout:cart": 1,
                "decisions_suppressed:cart:quiet_hours": 3,
                "decisions_suppressed:quiet_hours": 3,
                "decisions_cancelled:cart:goal_reached": 1,
                "model_drifts": 1,
                "segments_evaluated": 9,  # no series: ignored
            }
        )
    )
    assert value(registry, "stream_app_dead_letters_total", reason="undecodable") == 2
    assert value(registry, "stream_app_events_total", stream="clickstream", type="add_to_cart") == 3
    assert value(registry, "stream_app_events_dropped_total", why="erased") == 1
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


def test_model_figures_keep_one_version() -> None:
    registry = CollectorRegistry()
    metrics = EngineMetrics(registry)
    metrics.model("lr-g1", auc=0.7, log_loss=0.4)
    metrics.model("lr-g2", auc=0.75, log_loss=0.38)
    assert value(registry, "stream_app_model_auc") == 0.75
    assert value(registry, "stream_app_model_info", version="lr-g2") == 1
    assert value(registry, "stream_app_model_info", version="lr-g1") is None
