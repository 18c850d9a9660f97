"""The live dashboard's snapshot: its response models and ``shape``, which builds one
from what was read (Redis and the workers' metrics). Pure, so it is tested without
servers; ``routes_dashboard`` does the reading.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import Field

from stream_app.api.models import CampaignLift, Model
from stream_app.decisions.lift import CampaignLift as Lift
from stream_app.metrics.quantiles import histogram_quantile
from stream_app.metrics.scrape import APPLY_LATENCY, TRIGGER_TO_DECISION, Partition, Scrape
from stream_app.storage.stats import by_reason

#: The name the worker's learner checkpoints the engagement model under.
MODEL = "engagement"


class EventTotals(Model):
    applied: int = Field(description="Events whose effect is in a profile (all workers).")
    duplicates: int = Field(description="Events seen again and ignored.")
    dead_letters: int = Field(description="Broken records refused (the dead-letter topic).")
    late: int = Field(description="Valid events beyond the allowed lateness (the late topic).")
    profiles: int = Field(description="Profiles created.")


class DecisionMix(Model):
    planned: int
    deferred: int = Field(description="Planned for a later send time.")
    emitted: int = Field(description="Sent to the decisions topic.")
    holdout: int = Field(description="Held out (audit topic), to measure lift.")
    cancelled: int = Field(description="Planned, then cancelled before sending.")


class ScheduleDepth(Model):
    scheduled: int = Field(description="Checks waiting for their time.")
    in_flight: int = Field(description="Checks claimed by a worker right now.")


class EngagementModel(Model):
    version: str | None = Field(description="As the workers report it; null if none answered.")
    labels: int = Field(description="Labels the model learned from (last checkpoint).")
    auc: float | None = Field(description="Rolling ROC AUC; null before any label.")
    log_loss: float | None = Field(description="Rolling log loss; null before any label.")
    checkpoint: dict[str, float] = Field(description="Every figure of the last checkpoint.")


class WorkerEndpoint(Model):
    url: str
    up: bool
    error: str | None = Field(description="Why it gave no metrics: timeout, unreachable, ...")


class PartitionLag(Model):
    topic: str
    partition: int
    lag: int
    stalled: bool = Field(description="Records waiting and the committed offset not moving.")


class ConsumerLag(Model):
    total: int | None = Field(description="Records not yet committed; null if no worker answered.")
    stalled: int = Field(description="Stalled partitions.")
    partitions: list[PartitionLag]


class Percentiles(Model):
    count: int = Field(description="Observations since the workers started.")
    p50: float | None
    p95: float | None
    p99: float | None


class Latency(Model):
    """Seconds, over every observation since each worker started (the histograms)."""

    event_apply: Percentiles = Field(description="Event time to its effect in the profile.")
    trigger_to_decision: Percentiles = Field(description="Triggering event to decision.")


class Dashboard(Model):
    """One snapshot of the engine for the live dashboard (poll it)."""

    at: datetime = Field(description="When it was taken (rates come from two snapshots).")
    events: EventTotals
    decisions: DecisionMix
    suppressed: dict[str, int] = Field(description="Decisions suppressed, by reason.")
    cancelled: dict[str, int] = Field(description="Decisions cancelled, by reason.")
    dead_letters: dict[str, int] = Field(description="Records dead-lettered, by reason.")
    schedule: ScheduleDepth
    model: EngagementModel
    lift: list[CampaignLift] = Field(description="As `GET /v1/reports/lift`.")
    workers: list[WorkerEndpoint] = Field(
        description="Workers announced in Redis, and STREAM_APP_METRICS__DASHBOARD_URLS."
    )
    lag: ConsumerLag
    latency: Latency
    counters: dict[str, int] = Field(description="Every engine counter (Redis stats hash).")


def shape(
    at: datetime,
    counters: Mapping[str, int],
    depth: tuple[int, int],
    meta: Mapping[str, float],
    lifts: Sequence[Lift],
    scrapes: Sequence[Scrape],
) -> Dashboard:
    """The snapshot from the stats hash, the schedule's depth, the model's checkpoint
    figures, the lifts and each worker endpoint's scrape."""
    dead_letters = by_reason(counters, "dead_letters")
    cancelled = by_reason(counters, "decisions_cancelled")
    checkpoint = {k: float(v) for k, v in meta.items() if math.isfinite(v)}
    labels = int(checkpoint.get("labels", 0))
    readings = [s.reading for s in scrapes if s.reading is not None]
    versions = Counter(r.model_version for r in readings if r.model_version)
    return Dashboard(
        at=at,
        events=EventTotals(
            applied=counters.get("events_applied", 0),
            duplicates=counters.get("events_duplicate", 0),
            dead_letters=sum(dead_letters.values()),
            late=sum(by_reason(counters, "events_late").values()),
            profiles=counters.get("profiles_created", 0),
        ),
        decisions=DecisionMix(
            planned=counters.get("decisions_planned", 0),
            deferred=counters.get("decisions_deferred", 0),
            emitted=counters.get("decisions_emitted", 0),
            holdout=counters.get("decisions_holdout", 0),
            cancelled=sum(cancelled.values()),
        ),
        suppressed=by_reason(counters, "decisions_suppressed"),
        cancelled=cancelled,
        dead_letters=dead_letters,
        schedule=ScheduleDepth(scheduled=depth[0], in_flight=depth[1]),
        model=EngagementModel(
            version=versions.most_common(1)[0][0] if versions else None,
            labels=labels,
            auc=checkpoint.get("auc") if labels else None,
            log_loss=checkpoint.get("log_loss") if labels else None,
            checkpoint=checkpoint,
        ),
        lift=[CampaignLift.model_validate(x.as_dict()) for x in lifts],
        workers=[
            WorkerEndpoint(url=s.url, up=s.reading is not None, error=s.error) for s in scrapes
        ],
        lag=_lag(scrapes),
        latency=Latency(
            event_apply=_percentiles(scrapes, APPLY_LATENCY),
            trigger_to_decision=_percentiles(scrapes, TRIGGER_TO_DECISION),
        ),
        counters=dict(sorted(counters.items())),
    )


def _lag(scrapes: Sequence[Scrape]) -> ConsumerLag:
    """Per partition the highest lag any worker reports: during a rebalance two workers
    may both report one partition, and adding them would count its records twice."""
    lag: dict[Partition, int] = {}
    stalled: dict[Partition, bool] = {}
    answered = False
    for scrape in scrapes:
        if scrape.reading is None:
            continue
        answered = True
        for partition, n in scrape.reading.lag.items():
            lag[partition] = max(n, lag.get(partition, 0))
        for partition, flag in scrape.reading.stalled.items():
            stalled[partition] = flag or stalled.get(partition, False)
    partitions = [
        PartitionLag(
            topic=t, partition=p, lag=lag.get((t, p), 0), stalled=stalled.get((t, p), False)
        )
        for t, p in sorted(lag.keys() | stalled.keys())
    ]
    return ConsumerLag(
        total=sum(p.lag for p in partitions) if answered else None,
        stalled=sum(p.stalled for p in partitions),
        partitions=partitions,
    )


def _percentiles(scrapes: Sequence[Scrape], histogram: str) -> Percentiles:
    """p50/p95/p99 of one histogram summed over every worker that answered."""
    buckets: dict[float, float] = {}
    for scrape in scrapes:
        if scrape.reading is not None:
            for bound, count in scrape.reading.histograms.get(histogram, {}).items():
                buckets[bound] = buckets.get(bound, 0.0) + count
    p50, p95, p99 = (histogram_quantile(q, buckets.items()) for q in (0.5, 0.95, 0.99))
    return Percentiles(
        count=int(max(buckets.values(), default=0)),
        p50=_round(p50),
        p95=_round(p95),
        p99=_round(p99),
    )


def _round(seconds: float | None) -> float | None:
    """Microseconds are plenty: keeps the JSON short."""
    return None if seconds is None else round(seconds, 6)
