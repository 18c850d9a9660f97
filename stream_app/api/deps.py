"""What every request handler needs, built once per app and reached via ``Depends``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from stream_app.api.api_key_store import ApiKeyStore
from stream_app.api.breaker import RedisGuard
from stream_app.api.ratelimit import RateLimiter
from stream_app.clock import Clock
from stream_app.profiles.derive import ValueRules
from stream_app.segments.rules import SegmentRules
from stream_app.settings import Settings
from stream_app.storage.client import RedisClient
from stream_app.storage.decision_log import DecisionLog
from stream_app.storage.decisions import DecisionStore
from stream_app.storage.endpoints import EndpointStore
from stream_app.storage.erasure import ErasureStore
from stream_app.storage.funnel import FunnelStore
from stream_app.storage.profiles import ProfileStore
from stream_app.storage.schedule import ScheduleStore
from stream_app.storage.scoring import ModelStore
from stream_app.storage.segments import SegmentStore
from stream_app.storage.stats import StatsStore


@dataclass(frozen=True, slots=True)
class ApiContext:
    settings: Settings
    redis: RedisClient
    clock: Clock
    guard: RedisGuard
    api_keys: ApiKeyStore
    limiter: RateLimiter
    profiles: ProfileStore
    value_rules: ValueRules
    segments: SegmentStore
    #: The configured segments, compiled: a profile read evaluates them as of its time.
    segment_rules: SegmentRules
    decisions: DecisionStore
    decision_log: DecisionLog
    erasure: ErasureStore
    stats: StatsStore
    schedule: ScheduleStore
    models: ModelStore
    endpoints: EndpointStore
    funnel: FunnelStore


def get_context(request: Request) -> ApiContext:
    context = request.app.state.context
    assert isinstance(context, ApiContext)
    return context


Context = Annotated[ApiContext, Depends(get_context)]
