"""Every worker metric in one object, built on an injectable registry (seconds as the unit).

Most figures already exist as the engine's counts (typed keys, ``stream_app.counts``,
also written to the Redis stats hash); ``count`` puts them on labelled Prometheus
series by their fields, so the two views never disagree. Latencies, lag and queue
depth are observed where they happen.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter as Counter_
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from stream_app.counts import Counts, DecisionCount, DecisionOutcome, EventsIn, Labelled, Plain

#: Latency buckets from a millisecond to an hour: event -> profile spans both. Dense
#: from 50 ms to 2 s, where real-time targets sit, so a quantile is not a bucket edge.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4,
    0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
)  # fmt: skip
#: Redis pipelines: sub-millisecond to a few seconds (then the retry's backoff shows).
REDIS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def observe_all(histogram: Histogram, values: Iterable[float]) -> None:
    """Observe many values with one increment per bucket touched, not per value (a batch
    observes each of its events). Relies on prometheus_client's histogram keeping
    per-bucket counts (``_buckets``, ``_upper_bounds``, ``_sum``); observes one by one
    where it does not."""
    values = list(values)
    buckets = getattr(histogram, "_buckets", None)
    bounds = getattr(histogram, "_upper_bounds", None)
    total = getattr(histogram, "_sum", None)
    if buckets is None or bounds is None or total is None:
        for value in values:
            histogram.observe(value)
        return
    counts = Counter_(bisect_left(bounds, value) for value in values)
    for index, n in counts.items():
        buckets[index].inc(n)
    total.inc(sum(values))


class EngineMetrics:
    """The worker's metrics: pass a registry in tests, ``None`` for a fresh one."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.events, self.dead_letters, self.late, self.dropped = _event_families(r)
        self.device_readings = Counter(
            "stream_app_device_readings",
            "Readings of unlinked devices: parked, applied after waiting, expired (then "
            "dead-lettered as unknown_device).",
            ["outcome"],
            registry=r,
        )
        self.backfilled = Counter(
            "stream_app_events_backfilled",
            "Events of records marked as backfill: applied as history, messaging nobody.",
            registry=r,
        )
        self.apply_latency, self.trigger_to_decision, self.timer_lateness = _latency_families(r)
        self.round_trips, self.redis_batch, self.redis_errors = _redis_families(r)
        self.redis_full, self.redis_refused = _full_families(r)
        self.consumer_lag, self.partition_stalled = _consumer_families(r)
        self.decisions, self.scheduled, self.overdue = _decision_families(r)
        self.model_auc, self.model_log_loss, self.model_drifts, self.model_info = _model_families(r)
        self.tz_assumed = Counter(
            "stream_app_tz_assumed",
            "Events binned in the rhythm in the default time zone: the customer had no "
            "timezone trait when they were applied.",
            registry=r,
        )
        self.audit_checked, self.audit_mismatches = _audit_families(r)
        self.remarks_unscored = Counter(
            "stream_app_remarks_unscored",
            "Reviews and comments with no rating in a language the sentiment model does not "
            "read: applied, the customer's sentiment unchanged.",
            registry=r,
        )

    def count(self, counts: Counts) -> None:
        """Put a batch's counts on their labelled series (the keys carry the labels)."""
        for key, n in counts.items():
            if n <= 0:
                continue
            match key:
                case Labelled("dead_letters", reason):
                    self.dead_letters.labels(reason).inc(n)
                case Labelled("events_late", stream):
                    self.late.labels(stream).inc(n)
                case Labelled("device_readings", outcome):
                    self.device_readings.labels(outcome).inc(n)
                case Labelled("events_dropped", why):
                    self.dropped.labels(why).inc(n)
                case EventsIn(stream, kind):
                    self.events.labels(stream, kind).inc(n)
                case Plain("model_drifts"):
                    self.model_drifts.inc(n)
                case Plain("tz_assumed"):
                    self.tz_assumed.inc(n)
                case Plain("remarks_unscored"):
                    self.remarks_unscored.inc(n)
                case Plain("events_backfilled"):
                    self.backfilled.inc(n)
                case Plain("audit_checked"):
                    self.audit_checked.inc(n)
                case Labelled("audit_mismatches", check):
                    self.audit_mismatches.labels(check).inc(n)
                case DecisionCount(campaign, outcome, detail):
                    self._decided(campaign, outcome, detail, n)

    def _decided(self, campaign: str, outcome: DecisionOutcome, detail: str, n: int) -> None:
        label = _OUTCOME_LABELS.get(outcome)
        if label is None:
            return
        channel = detail if outcome == "emitted" else ""
        if outcome in ("suppressed", "cancelled"):
            label = f"{label}:{detail}"
        self.decisions.labels(campaign, channel, label).inc(n)

    def model(self, version: str, auc: float, log_loss: float) -> None:
        """The model's figures as of its last checkpoint."""
        self.model_auc.set(auc)
        self.model_log_loss.set(log_loss)
        self.model_info.clear()
        self.model_info.labels(version).set(1)


def _event_families(r: CollectorRegistry) -> tuple[Counter, Counter, Counter, Counter]:
    """Events in, dead-lettered (broken), late (valid, routed to the late topic) and
    dropped on purpose."""
    return (
        Counter(
            "stream_app_events", "Events in, by stream and type.", ["stream", "type"], registry=r
        ),
        Counter(
            "stream_app_dead_letters", "Records dead-lettered, by reason.", ["reason"], registry=r
        ),
        Counter(
            "stream_app_events_late",
            "Events beyond the allowed lateness, routed to the late topic, by stream.",
            ["stream"],
            registry=r,
        ),
        Counter(
            "stream_app_events_dropped", "Events dropped on purpose, by why.", ["why"], registry=r
        ),
    )


def _latency_families(r: CollectorRegistry) -> tuple[Histogram, Histogram, Histogram]:
    """The real-time figures: event to profile, trigger to decision, due time to check."""
    return (
        Histogram(
            "stream_app_event_apply_latency_seconds",
            "Event time to the event's effect being in its profile.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        ),
        Histogram(
            "stream_app_trigger_to_decision_seconds",
            "Triggering event to decision made (planned or scheduled).",
            ["trigger"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        ),
        Histogram(
            "stream_app_timer_lateness_seconds",
            "A scheduled check's due time to its effects written (sends, cart checks, ...).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        ),
    )


def _redis_families(r: CollectorRegistry) -> tuple[Histogram, Histogram, Counter]:
    """What a batch costs in Redis: round trips, time, failed calls."""
    return (
        Histogram(
            "stream_app_redis_round_trips",
            "Redis round trips per batch (events) or per claim of due checks (timer).",
            buckets=(1, 2, 3, 4, 5, 8),
            registry=r,
        ),
        Histogram(
            "stream_app_redis_batch_seconds",
            "One batch's (or timer claim's) Redis round trips, retries included.",
            buckets=REDIS_BUCKETS,
            registry=r,
        ),
        Counter(
            "stream_app_redis_errors",
            "Redis calls that failed (unreachable, slow) and were retried; refusals of a "
            "full Redis count in stream_app_redis_writes_refused.",
            registry=r,
        ),
    )


def _full_families(r: CollectorRegistry) -> tuple[Gauge, Counter]:
    """Redis full (``maxmemory`` with ``noeviction``): writes refused, the worker paused."""
    return (
        Gauge(
            "stream_app_redis_full",
            "1 while Redis refuses this worker's writes for lack of memory (maxmemory, "
            "noeviction): its batches wait, consumption is paused.",
            registry=r,
        ),
        Counter(
            "stream_app_redis_writes_refused",
            "Redis calls refused because Redis was full, each retried (never dropped).",
            registry=r,
        ),
    )


def _consumer_families(r: CollectorRegistry) -> tuple[Gauge, Gauge]:
    """How far behind the worker group is, per partition."""
    return (
        Gauge(
            "stream_app_consumer_lag",
            "Records not yet committed by the worker group.",
            ["topic", "partition"],
            registry=r,
        ),
        Gauge(
            "stream_app_partition_stalled",
            "1 when a partition has lag and its committed offset has not moved for a while.",
            ["topic", "partition"],
            registry=r,
        ),
    )


def _decision_families(r: CollectorRegistry) -> tuple[Counter, Gauge, Gauge]:
    """Decisions by outcome, and the schedule of checks they wait in."""
    return (
        Counter(
            "stream_app_decisions",
            "Decisions by campaign, channel and outcome (planned, deferred, sent, holdout, "
            "suppressed:<reason>, cancelled:<reason>).",
            ["campaign", "channel", "outcome"],
            registry=r,
        ),
        Gauge("stream_app_scheduled_checks", "Checks waiting in the schedule.", registry=r),
        Gauge("stream_app_overdue_checks", "Scheduled checks due for over a minute.", registry=r),
    )


def _model_families(r: CollectorRegistry) -> tuple[Gauge, Gauge, Counter, Gauge]:
    """The engagement model's quality, drifts and version."""
    return (
        Gauge("stream_app_model_auc", "Engagement model: rolling ROC AUC.", registry=r),
        Gauge("stream_app_model_log_loss", "Engagement model: rolling log loss.", registry=r),
        Counter("stream_app_model_drifts", "Drifts detected in the engagement model.", registry=r),
        Gauge(
            "stream_app_model_info",
            "The engagement model's version (value 1).",
            ["version"],
            registry=r,
        ),
    )


def _audit_families(r: CollectorRegistry) -> tuple[Counter, Counter]:
    """Profiles checked for broken invariants in the pass (a sample), and what failed
    (docs/audit.md)."""
    return (
        Counter(
            "stream_app_audit_checked",
            "Profiles checked for broken invariants as a pass wrote them (a sample).",
            registry=r,
        ),
        Counter(
            "stream_app_audit_mismatches",
            "Profiles failing an invariant check, by check (docs/audit.md).",
            ["check"],
            registry=r,
        ),
    )


#: The decision outcomes with a series, and their label there.
_OUTCOME_LABELS: dict[str, str] = {
    "planned": "planned",
    "deferred": "deferred",
    "emitted": "sent",
    "holdout": "holdout",
    "suppressed": "suppressed",
    "cancelled": "cancelled",
}
