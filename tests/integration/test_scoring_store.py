"""The label join and model checkpoints against a real Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from stream_app.storage.layout import Keys
from stream_app.storage.scoring import ModelStore, Scored, ScoringStore, Snapshot
from tests.integration.fixtures import commit

pytestmark = pytest.mark.integration


def scored(customer: str, decision: str) -> Scored:
    return Scored(
        customer,
        decision,
        {"recency": 1.5, "offer=free_shipping": 1.0},
        "lr-g1",
        0.25,
        "tier=vip",
        "free_shipping",
        0.8,
    )


async def test_each_decision_is_labelled_exactly_once(redis: Redis, keys: Keys) -> None:
    store = ScoringStore(redis, keys)
    cid, did = f"c-{uuid.uuid4().hex[:8]}", f"dec-{uuid.uuid4().hex[:8]}"
    await commit(redis, lambda w: store.remember(w, [scored(cid, did)], ttl_s=60))
    # A click and the end of the attribution window race for the same decision.
    first, second = await asyncio.gather(store.take([(cid, did)]), store.take([(cid, did)]))
    winners = [x for x in (*first, *second) if x is not None]
    assert winners == [scored(cid, did)], "exactly one label claims the features"
    assert await store.take([(cid, did)]) == [None]
    assert await store.take([(cid, "dec-never-scored")]) == [None]


async def test_unlabelled_features_expire(redis: Redis, keys: Keys) -> None:
    store = ScoringStore(redis, keys)
    cid, did = f"c-{uuid.uuid4().hex[:8]}", f"dec-{uuid.uuid4().hex[:8]}"
    await commit(redis, lambda w: store.remember(w, [scored(cid, did)], ttl_s=60))
    ttl = await redis.ttl(keys.scored(cid, did))
    assert 0 < ttl <= 60


async def test_model_snapshot_round_trip(redis: Redis, keys: Keys) -> None:
    models = ModelStore(redis, keys)
    name = f"engagement-{uuid.uuid4().hex[:6]}"
    assert await models.snapshot(name) is None
    assert await models.version(name) is None
    blob = bytes(range(256)) * 10  # binary-safe
    assert await models.save(name, "lr-g3-1", blob)
    assert await models.snapshot(name) == Snapshot("lr-g3-1", blob, None, {})
    assert await models.save(name, "lr-g3-2", blob[::-1], {"auc": 0.7}, b"bandit", over="lr-g3-1")
    assert await models.version(name) == "lr-g3-2"
    # Over a version that is no longer there (another learner published since): refused.
    assert not await models.save(name, "lr-g3-2", b"stale", over="lr-g3-1")
    assert not await models.save(name, "lr-g1-1", b"stale")
    assert await models.snapshot(name) == Snapshot("lr-g3-2", blob[::-1], b"bandit", {"auc": 0.7})
    # The sentiment model is saved only when it learned: left out, the one before stays.
    assert await models.save(name, "lr-g3-3", blob, sentiment=b"texts", over="lr-g3-2")
    assert await models.save(name, "lr-g3-4", blob, over="lr-g3-3")
    got = Snapshot("lr-g3-4", blob, b"bandit", {}, b"texts", "lr-g3-3")
    assert await models.snapshot(name) == got
    # A reader that has the sentiment model saved with lr-g3-3 does not read it again.
    assert await models.snapshot(name, "lr-g3-3") == Snapshot(
        "lr-g3-4", blob, b"bandit", {}, None, "lr-g3-3"
    )
