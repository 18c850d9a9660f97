"""Every worker metric in one object, built on an injectable registry (seconds as the unit).

Most figures already exist as the engine's counters (``Counter[str]`` named like
``decisions_suppressed:<campaign>:<reason>``, written to the Redis stats hash);
``count`` maps them onto labelled Prometheus series, so the two views never
disagree. Latencies, lag and queue depth are observed where they happen.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: Latency buckets from a millisecond to an hour: event -> profile spans both.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0, 900.0, 3600.0,
)  # fmt: skip
#: Redis pipelines: sub-millisecond to a few seconds (then the retry's backoff shows).
REDIS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class EngineMetrics:
    """The worker's metrics: pass a registry in tests, ``None`` for a fresh one."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.events = Counter(
            "stream_app_events", "Events in, by stream and type.", ["stream", "type"], registry=r
        )
        self.dead_letters = Counter(
            "stream_app_dead_letters", "Records dead-lettered, by reason.", ["reason"], registry=r
        )
        self.dropped = Counter(
            "stream_app_events_dropped", "Events dropped on purpose, by why.", ["why"], registry=r
        )
        self.apply_latency = Histogram(
            "stream_app_event_apply_latency_seconds",
            "Event time to the event's effect being in its profile.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.trigger_to_decision = Histogram(
            "stream_app_trigger_to_decision_seconds",
            "Triggering event to decision made (planned or scheduled).",
            ["trigger"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.timer_lateness = Histogram(
            "stream_app_timer_lateness_seconds",
            "A scheduled check's due time to its effects written (sends, cart checks, ...).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.round_trips = Histogram(
            "stream_app_redis_round_trips",
            "Redis round trips per batch (events) or per claim of due checks (timer).",
            buckets=(1, 2, 3, 4, 5, 8),
            registry=r,
        )
        self.consumer_lag = Gauge(
            "stream_app_consumer_lag",
            "Records not yet committed by the worker group.",
            ["topic", "partition"],
            registry=r,
        )
        self.partition_stalled = Gauge(
            "stream_app_partition_stalled",
            "1 when a partition has lag and its committed offset has not moved for a while.",
            ["topic", "partition"],
            registry=r,
        )
        self.redis_batch = Histogram(
            "stream_app_redis_batch_seconds",
            "One batch's (or timer claim's) Redis round trips, retries included.",
            buckets=REDIS_BUCKETS,
            registry=r,
        )
        self.redis_errors = Counter(
            "stream_app_redis_errors", "Redis calls that failed and were retried.", registry=r
        )
        self.decisions = Counter(
            "stream_app_decisions",
            "Decisions by campaign, channel and outcome (planned, deferred, sent, holdout, "
            "suppressed:<reason>, cancelled:<reason>).",
            ["campaign", "channel", "outcome"],
            registry=r,
        )
        self.scheduled = Gauge(
            "stream_app_scheduled_checks", "Checks waiting in the schedule.", registry=r
        )
        self.overdue = Gauge(
            "stream_app_overdue_checks", "Scheduled checks due for over a minute.", registry=r
        )
        self.model_auc = Gauge(
            "stream_app_model_auc", "Engagement model: rolling ROC AUC.", registry=r
        )
        self.model_log_loss = Gauge(
            "stream_app_model_log_loss", "Engagement model: rolling log loss.", registry=r
        )
        self.model_drifts = Counter(
            "stream_app_model_drifts", "Drifts detected in the engagement model.", registry=r
        )
        self.model_info = Gauge(
            "stream_app_model_info", "The engagement model's version (value 1).", ["version"],
            registry=r,
        )  # fmt: skip

    def count(self, counters: Mapping[str, int]) -> None:
        """Map a batch's engine counters onto the labelled series."""
        for name, n in counters.items():
            if n <= 0:
                continue
            kind, _, rest = name.partition(":")
            parts = rest.split(":") if rest else []
            if kind == "dead_letters" and parts:
                self.dead_letters.labels(parts[0]).inc(n)
            elif kind == "events_type" and len(parts) == 2:
                self.events.labels(*parts).inc(n)
            elif kind == "events_dropped" and parts:
                self.dropped.labels(parts[0]).inc(n)
            elif kind == "model_drifts":
                self.model_drifts.inc(n)
            elif kind in _OUTCOMES:
                self._decision(kind, parts, n)

    def _decision(self, kind: str, parts: list[str], n: int) -> None:
        outcome, shape = _OUTCOMES[kind]
        if len(parts) != shape:  # the campaign-less totals are sums of these
            return
        campaign = parts[0]
        channel = parts[1] if kind == "decisions_emitted" else ""
        if kind in ("decisions_suppressed", "decisions_cancelled"):
            outcome = f"{outcome}:{parts[1]}"
        self.decisions.labels(campaign, channel, outcome).inc(n)

    def model(self, version: str, auc: float, log_loss: float) -> None:
        """The model's figures as of its last checkpoint."""
        self.model_auc.set(auc)
        self.model_log_loss.set(log_loss)
        self.model_info.clear()
        self.model_info.labels(version).set(1)


#: Engine counter -> (outcome label, number of ``:`` parts after the name that carry
#: campaign [, channel or reason]).
_OUTCOMES = {
    "decisions_planned": ("planned", 1),
    "decisions_deferred": ("deferred", 1),
    "decisions_emitted": ("sent", 2),
    "decisions_holdout": ("holdout", 1),
    "decisions_suppressed": ("suppressed", 2),
    "decisions_cancelled": ("cancelled", 2),
}
