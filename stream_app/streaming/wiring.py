"""The worker's composition root: every part built once, from settings.

``build_engine`` is the one place that reads settings for the stream: stores as
one bundle, rules, the learner, the one pass and its timer. ``streaming.app``
only hands Faust's batches and tasks to what it returns.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import timedelta

from stream_app.clock import Clock, utc_now
from stream_app.decisions.campaigns import CampaignBook, CartAbandonment, load_campaigns
from stream_app.metrics.engine import EngineMetrics
from stream_app.model.shared import Trainer
from stream_app.segments.rules import SegmentRules, load_segments
from stream_app.settings import Settings
from stream_app.storage.bundle import Stores, build_stores
from stream_app.storage.connection import redis_client
from stream_app.streaming.audit import Auditor
from stream_app.streaming.batch import BatchConfig
from stream_app.streaming.decider import Decider
from stream_app.streaming.effects import EffectRules, Effects
from stream_app.streaming.learning import Learner
from stream_app.streaming.onepass import OnePass
from stream_app.streaming.priors import PriorCache
from stream_app.streaming.publisher import Publisher
from stream_app.streaming.remarks import Listener
from stream_app.streaming.retry import RedisRetry
from stream_app.streaming.timers import Alarm, Timer
from stream_app.streaming.training import Training


@dataclass(frozen=True, slots=True)
class Engine:
    """What the worker runs: the pass over batches, its timer, and their companions."""

    stores: Stores
    book: CampaignBook
    learner: Learner
    training: Training
    metrics: EngineMetrics
    one_pass: OnePass
    timer: Timer
    alarm: Alarm
    retry: RedisRetry


def build_engine(
    settings: Settings,
    *,
    publisher: Publisher,
    clock: Clock = utc_now,
    metrics: EngineMetrics | None = None,
) -> Engine:
    """Everything the worker runs, wired once from ``settings``."""
    metrics = metrics or EngineMetrics()
    stores = build_stores(redis_client(settings), settings)
    retry = RedisRetry(settings.redis.retry_max_s, metrics)
    book = load_campaigns(settings.decisions.campaigns_file)
    rules = settings.decisions.rules()
    learner = _learner(settings, stores, retry)
    decider = Decider(book=book, rules=rules, learner=learner)
    alarm = Alarm()
    segment_rules = SegmentRules(load_segments(settings.segments.file))
    one_pass = OnePass(
        stores=stores,
        batch_config=batch_config(
            settings, book, Listener(learner, settings.profiles.remark_text_weight)
        ),
        limits=settings.funnel.limits(settings.profiles.state_limits()),
        value_rules=settings.profiles.value_rules(),
        topics=settings.topics,
        effects=Effects(
            rules=EffectRules(
                allowed_lateness_ms=int(settings.profiles.allowed_lateness.total_seconds() * 1000),
                segment_refresh=settings.segments.refresh,
                attribution_window=settings.model.attribution_window,
                sent_ttl=settings.decisions.dedupe_window,
                pending_ttl=decider.pending_ttl,
                scored_ttl_s=decider.scored_ttl_s(),
                funnel=settings.funnel.rules(),
            ),
            stores=stores,
            audit=auditor(settings, segment_rules),
        ),
        segment_rules=segment_rules,
        decider=decider,
        priors=PriorCache(store=stores.priors, rules=rules, retry=retry),
        learner=learner,
        publisher=publisher,
        clock=clock,
        retry=retry,
        metrics=metrics,
        wake=alarm.ring,
        segment_memo=settings.segments.memo_customers,
    )
    timer = Timer(
        schedule=stores.schedule,
        handle=one_pass.due,
        alarm=alarm,
        batch=settings.decisions.scheduler_batch,
        lease=settings.decisions.scheduler_lease,
        max_sleep=settings.decisions.timer_max_sleep,
        clock=clock,
        retry=retry,
    )
    training = Training(
        Trainer(settings.model.engagement(), settings.model.bandit(), settings.model.validation()),
        stores.models,
        stores.stats,
        retry,
        metrics,
    )
    return Engine(stores, book, learner, training, metrics, one_pass, timer, alarm, retry)


def batch_config(
    settings: Settings, book: CampaignBook, listener: Listener | None = None
) -> BatchConfig:
    """How records are decoded and folded (``listener``: scores reviews and comments)."""
    return BatchConfig(
        streams=settings.topics.streams(),
        limits=settings.worker.decode_limits(),
        fold=settings.funnel.fold(
            settings.profiles.fold_config(
                settings.secrets.pseudonym_secret.get_secret_value().encode(), _cart_delay(book)
            )
        ),
        dlq_keep_bytes=settings.worker.dlq_max_original_bytes,
        device_grace_ms=int(settings.profiles.device_link_grace.total_seconds() * 1000),
        device_parked_max=settings.profiles.device_parked_max,
        listener=listener,
    )


def auditor(settings: Settings, segment_rules: SegmentRules) -> Auditor | None:
    """The pass's invariant checks on a sample of customers (None: sample rate 0)."""
    if not settings.audit.sample_rate:
        return None
    return Auditor(
        sample_rate=settings.audit.sample_rate,
        future_skew_ms=int(settings.worker.max_event_future_skew.total_seconds() * 1000),
        limits=settings.profiles.state_limits(),
        segment_rules=segment_rules,
        secret=settings.secrets.pseudonym_secret.get_secret_value().encode(),
    )


def _cart_delay(book: CampaignBook) -> timedelta | None:
    """When a cart is first checked after an addition: the shortest cart campaign idle."""
    idles = [c.trigger.idle for c in book.campaigns if isinstance(c.trigger, CartAbandonment)]
    return min(idles, default=None)


def _learner(settings: Settings, stores: Stores, retry: RedisRetry) -> Learner:
    return Learner(
        model=settings.model.engagement(),
        bandit=settings.model.bandit(),
        offers=settings.model.offers,
        scoring=stores.scoring,
        models=stores.models,
        retry=retry,
        topic=settings.topics.labels,
        origin=f"{socket.gethostname()}-{os.getpid()}",
    )
