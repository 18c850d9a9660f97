"""Every store the engine uses, built once from settings over one Redis client.

The worker's composition root and the tools take this bundle instead of building
stores one by one, so a store's settings are read in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from stream_app.settings import Settings
from stream_app.storage.basket import BasketStore
from stream_app.storage.catalog import CatalogStore
from stream_app.storage.client import RedisClient
from stream_app.storage.commit import Committer
from stream_app.storage.configured import keys_of
from stream_app.storage.customers import CustomerStore
from stream_app.storage.decision_log import DecisionLog
from stream_app.storage.decisions import DecisionStore
from stream_app.storage.endpoints import EndpointStore
from stream_app.storage.funnel import FunnelStore
from stream_app.storage.layout import Keys
from stream_app.storage.parking import ParkingStore
from stream_app.storage.priors import PriorStore
from stream_app.storage.profiles import ProfileStore
from stream_app.storage.schedule import ScheduleStore
from stream_app.storage.scoring import ModelStore, ScoringStore
from stream_app.storage.segments import SegmentStore
from stream_app.storage.stats import StatsStore


@dataclass(frozen=True, slots=True)
class Stores:
    redis: RedisClient
    keys: Keys
    customers: CustomerStore
    profiles: ProfileStore
    catalog: CatalogStore
    segments: SegmentStore
    decisions: DecisionStore
    decision_log: DecisionLog
    schedule: ScheduleStore
    scoring: ScoringStore
    models: ModelStore
    basket: BasketStore
    priors: PriorStore
    stats: StatsStore
    committer: Committer
    parking: ParkingStore
    endpoints: EndpointStore
    funnel: FunnelStore


def build_stores(redis: RedisClient, settings: Settings) -> Stores:
    """All stores over ``redis``, configured by ``settings``."""
    keys = keys_of(settings)
    profile_ttl_s = int(settings.profiles.ttl.total_seconds())
    schedule = ScheduleStore(redis, keys)
    return Stores(
        redis=redis,
        keys=keys,
        customers=CustomerStore(redis, keys, profile_ttl_s),
        profiles=ProfileStore(
            redis,
            keys,
            profile_ttl_s=profile_ttl_s,
            anonymous_ttl_s=int(settings.profiles.anonymous_ttl.total_seconds()),
        ),
        catalog=CatalogStore(
            redis, keys, viewers_kept=settings.decisions.viewers_kept, wishers_ttl_s=profile_ttl_s
        ),
        segments=SegmentStore(redis, keys, profile_ttl_s=profile_ttl_s),
        decisions=DecisionStore(redis, keys),
        decision_log=DecisionLog(
            redis, keys, settings.decisions.log_length, settings.decisions.log_kept
        ),
        schedule=schedule,
        scoring=ScoringStore(redis, keys),
        models=ModelStore(redis, keys),
        basket=BasketStore(
            redis,
            keys,
            kept=settings.decisions.basket_kept,
            # A pass retried later than this finds its events too old (dead-lettered).
            counted_for=settings.worker.max_event_age + settings.worker.max_event_future_skew,
        ),
        priors=PriorStore(redis, keys, half_life=settings.decisions.timing_prior_half_life),
        stats=StatsStore(redis, keys),
        committer=Committer(
            redis, replicas=settings.redis.wait_replicas, wait_ms=settings.redis.wait_timeout_ms
        ),
        parking=ParkingStore(redis, keys, schedule),
        endpoints=EndpointStore(redis, keys),
        funnel=FunnelStore(redis, keys, settings.funnel.period),
    )
