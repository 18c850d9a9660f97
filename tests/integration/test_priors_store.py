"""Learned send-time priors against a real Redis: sums add up and fade with time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from stream_app.storage.layout import Keys
from stream_app.storage.priors import PriorStore
from tests.integration.fixtures import commit

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


async def test_priors_add_up_and_halve_every_half_life(redis: Redis) -> None:
    store = PriorStore(redis, Keys(f"p{uuid.uuid4().hex[:8]}"), half_life=timedelta(days=14))
    evening = tuple(1.0 if hour == 19 else 0.0 for hour in range(24))
    await commit(redis, lambda w: store.add(w, {"*": evening, "vip": evening}, NOW))
    await commit(redis, lambda w: store.add(w, {"*": evening}, NOW))
    now = await store.read(["*", "vip", "unknown"], NOW)
    assert now["*"][19] == pytest.approx(2.0)
    assert now["vip"][19] == pytest.approx(1.0)
    assert now["unknown"] == (0.0,) * 24
    later = await store.read(["*"], NOW + timedelta(days=14))
    assert later["*"][19] == pytest.approx(1.0)
    assert sum(later["*"]) == pytest.approx(1.0)
