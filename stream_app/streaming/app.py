"""The Faust worker: thin wiring of the ingest agent and the decision timer.

Faust's cost is per Kafka record, so the agent takes records in batches and
hands each batch to ``IngestProcessor`` (one Redis pipeline per batch); the
agent runs with ``concurrency=1`` so an offset is never committed past a
record still being processed (faust-streaming #606).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import faust

from stream_app.clock import Clock, utc_now
from stream_app.decisions.campaigns import CartAbandonment, load_campaigns
from stream_app.decisions.planner import Rules
from stream_app.decisions.policies import Caps
from stream_app.decisions.quiet import QuietHours
from stream_app.events.decode import DecodeLimits
from stream_app.metrics.engine import EngineMetrics
from stream_app.metrics.server import serve_metrics
from stream_app.model.bandit import ContentBandit
from stream_app.model.drift import AdaptiveEngagement
from stream_app.model.engagement import EngagementModel
from stream_app.model.quality import ProgressiveValidation
from stream_app.profiles.fold import FoldConfig
from stream_app.segments.rules import SegmentRules, load_segments
from stream_app.settings import Settings
from stream_app.storage.basket import BasketStore
from stream_app.storage.catalog import CatalogStore
from stream_app.storage.configured import profile_store as profile_store
from stream_app.storage.configured import value_rules as value_rules
from stream_app.storage.connection import redis_client
from stream_app.storage.decisions import DecisionStore
from stream_app.storage.keys import Keys
from stream_app.storage.priors import PriorStore
from stream_app.storage.schedule import ScheduleStore
from stream_app.storage.scoring import ModelStore, ScoringStore
from stream_app.storage.segments import SegmentStore
from stream_app.storage.stats import StatsStore
from stream_app.streaming import transport
from stream_app.streaming.decider import Decider
from stream_app.streaming.hooks import CatalogTriggers, Conversions
from stream_app.streaming.ingest import IngestConfig, IngestProcessor, RawRecord
from stream_app.streaming.kafka import faust_credentials
from stream_app.streaming.lag import LagProbe
from stream_app.streaming.learning import Learner
from stream_app.streaming.observe import WorkerProbe
from stream_app.streaming.publisher import FaustPublisher
from stream_app.streaming.retry import RedisRetry
from stream_app.streaming.scheduler import (
    CartChecks,
    CheckHandler,
    LabelExpiry,
    Scheduler,
    SegmentEvaluation,
    SendDue,
)

log = logging.getLogger(__name__)


def faust_app(settings: Settings, batched: frozenset[str] = frozenset()) -> Any:
    """A Faust app tuned to join its group and be ready within seconds, fetching with our
    transport driver: the fetch settings of ``settings``; ``batched`` topics' records
    arrive one message per partition fetch."""
    transport.register()
    app = faust.App(
        settings.app_id,
        broker=[f"{transport.SCHEME}://{server}" for server in settings.kafka_bootstrap.split(",")],
        broker_credentials=faust_credentials(settings),
        datadir=settings.data_dir,
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
        table_standby_replicas=0,
        broker_session_timeout=settings.broker_session_timeout_s,
        broker_heartbeat_interval=settings.broker_heartbeat_interval_s,
        broker_rebalance_timeout=settings.broker_rebalance_timeout_s,
        broker_commit_every=settings.broker_commit_every,
        broker_commit_interval=settings.broker_commit_interval_s,
        producer_acks=-1,
        producer_linger_ms=1,
        producer_max_request_size=max(1_048_576, settings.dlq_max_original_bytes * 2),
        broker_max_poll_records=settings.max_poll_records,
        stream_buffer_maxsize=settings.stream_buffer_batches,
    )
    transport.configure(
        app,
        transport.FetchSettings(settings.fetch_max_wait_ms, settings.fetch_min_bytes, batched),
    )
    return app


def decision_rules(settings: Settings) -> Rules:
    """The engine-wide contact rules of ``settings``."""
    return Rules(
        caps=Caps(
            per_day=settings.caps_per_day,
            per_week=settings.caps_per_week,
            global_per_day=settings.global_cap_per_day,
        ),
        quiet=None if settings.quiet_hours is None else QuietHours(*settings.quiet_hours),
        prior_hourly=settings.timing_prior,
        prior_strength=settings.timing_prior_strength,
        layer_strength=settings.timing_layer_strength,
        holdout_salt=settings.holdout_salt,
    )


def create_worker_app(settings: Settings, clock: Clock = utc_now) -> Any:
    """The worker's Faust app with its agent and timer registered."""
    app = faust_app(settings, frozenset(settings.topics.inbound()))
    redis = redis_client(settings)
    keys = Keys(settings.key_prefix)
    profiles = profile_store(redis, settings)
    stats = StatsStore(redis, keys)
    schedule = ScheduleStore(redis, keys)
    publisher = FaustPublisher(app)
    metrics = EngineMetrics()
    retry = RedisRetry(settings.redis_retry_max_s, on_retry=metrics.redis_errors.inc)
    rules = SegmentRules(load_segments(settings.segments_file))
    learner = Learner(
        AdaptiveEngagement(
            EngagementModel(lr=settings.model_learning_rate),
            delta=settings.drift_delta,
            compare_window=settings.challenger_window,
            patience=settings.challenger_patience,
        ),
        ContentBandit(
            min_epsilon=settings.bandit_min_epsilon, max_epsilon=settings.bandit_max_epsilon
        ),
        ProgressiveValidation(settings.validation_window),
        settings.offers,
        ScoringStore(redis, keys),
        ModelStore(redis, keys),
        retry,
    )
    book = load_campaigns(settings.campaigns_file)
    fold_config = FoldConfig(
        pseudonym_secret=settings.pseudonym_secret.get_secret_value().encode(),
        cart_abandon_delay=min(
            (c.trigger.idle for c in book.campaigns if isinstance(c.trigger, CartAbandonment)),
            default=None,
        ),
        fx_to_base=settings.fx_to_base,
        weight_view=settings.taste_weight_view,
        weight_cart=settings.taste_weight_cart,
        weight_purchase=settings.taste_weight_purchase,
    )
    decisions = DecisionStore(redis, keys)
    segments = SegmentStore(redis, keys, profile_ttl_s=int(settings.profile_ttl.total_seconds()))
    priors = PriorStore(redis, keys, half_life=settings.timing_prior_half_life)
    catalog = CatalogStore(redis, keys, viewers_kept=settings.viewers_kept)
    rules_ = decision_rules(settings)
    decider = Decider(
        book,
        rules_,
        value_rules(settings),
        profiles,
        decisions,
        ScoringStore(redis, keys),
        learner,
        retry,
        BasketStore(redis, keys),
        segments,
        priors,
        metrics,
    )
    ingest = IngestProcessor(
        IngestConfig(
            streams=settings.topics.streams(),
            deadletter_topic=settings.topics.deadletter,
            limits=DecodeLimits(
                max_record_bytes=settings.max_record_bytes,
                max_events_per_record=settings.max_events_per_record,
                max_event_age=settings.max_event_age,
                max_future_skew=settings.max_event_future_skew,
            ),
            fold=fold_config,
            dlq_keep_bytes=settings.dlq_max_original_bytes,
            segment_debounce_ms=(
                _ms(settings.segment_debounce) if rules.names or book.campaigns else None
            ),
        ),
        profiles,
        stats,
        publisher,
        clock,
        retry,
        labels=learner.label,
        hooks=(CatalogTriggers(decider, catalog, retry), Conversions(decisions, retry)),
        metrics=metrics,
    )
    handlers: list[CheckHandler] = [
        CartChecks(decider, profiles, retry),
        SendDue(
            decider,
            rules_,
            (settings.topics.decisions, settings.topics.audit),
            decisions,
            publisher,
            settings.attribution_window,
            settings.dedupe_window,
            retry,
        ),
        LabelExpiry(learner),
        SegmentEvaluation(
            rules,
            value_rules(settings),
            settings.segment_refresh,
            settings.topics.segments,
            profiles,
            segments,
            publisher,
            retry,
            decider,
            catalog,
            priors,
        ),
    ]
    scheduler = Scheduler(
        handlers,
        schedule=schedule,
        batch=settings.scheduler_batch,
        lease_ms=_ms(settings.scheduler_lease),
        clock=clock,
        retry=retry,
    )

    inbound = app.topic(*settings.topics.inbound(), key_serializer="raw", value_serializer="raw")

    @app.agent(inbound, concurrency=1)
    async def ingest_agent(stream: Any) -> None:
        async for batch in stream.events():
            counters = await ingest.process(
                [RawRecord(r.topic, r.partition, r.offset, r.key, r.value) for r in batch.value]
            )
            metrics.count(counters)

    @app.task
    async def announce_start() -> None:
        log.info(
            "worker started: group %s, %d campaigns, metrics on %s",
            settings.app_id,
            len(book.campaigns),
            settings.metrics_port,
            extra={"event": "worker_start", "group": settings.app_id},
        )

    @app.on_partitions_assigned.connect
    async def announce_rebalance(sender: Any, assigned: Any, **_: Any) -> None:
        partitions = sorted(f"{tp.topic}:{tp.partition}" for tp in assigned)
        log.info(
            "rebalance: %d partitions assigned",
            len(partitions),
            extra={"event": "rebalance", "partitions": partitions},
        )

    @app.task
    async def restore_model() -> None:
        if await learner.restore():
            log.info("engagement model restored: %s", learner.model.version)

    @app.timer(settings.model_checkpoint_interval_s)
    async def checkpoint_model() -> None:
        await learner.checkpoint()

    @app.timer(settings.scheduler_interval_s)
    async def drain_due_checks() -> None:
        metrics.count(await scheduler.tick())

    probe = WorkerProbe(
        metrics,
        lambda: LagProbe(settings, settings.topics.inbound()),
        schedule,
        learner,
        settings.partition_stall_after,
        clock,
    )

    @app.task
    async def serve_worker_metrics() -> None:
        if serve_metrics(metrics.registry, settings.metrics_port):
            await probe.start()

    @app.timer(settings.metrics_probe_interval_s)
    async def probe_worker() -> None:
        await probe.tick()

    return app


def _ms(span: timedelta) -> int:
    return int(span.total_seconds() * 1000)
