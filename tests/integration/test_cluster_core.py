"""The core path on a Redis Cluster: events -> worker -> profile via the API -> a decision.

A worker of its own (topics, keys, group) on the session's local cluster (3 masters,
a replica each; ``redis_cluster``), with ``WAIT`` for one replica after each commit.
Its writes span many slots (per-customer keys, sharded schedule, per-item basket
rows), each script touching one; the timer claims from every schedule shard.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import RedisCluster

from stream_app.api.app import create_app
from stream_app.api.scopes import Scope
from stream_app.devstack.ports import free_port
from stream_app.devstack.workers import worker_process
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.storage.bundle import build_stores
from stream_app.storage.commit import Committer, Writes
from stream_app.storage.configured import keys_of
from stream_app.storage.connection import redis_client
from stream_app.storage.layout import Keys
from stream_app.storage.routed import ReplicasBehind
from stream_app.storage.slots import key_slot
from tests.integration.api_support import client, new_key
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import (
    decisions_until,
    dumps,
    event,
    eventually,
    ids,
    isolated,
    produce,
    profile_fields,
    proximity,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def own(cluster_settings: Settings) -> Settings:
    mine, _ = isolated(cluster_settings, "cl")
    return mine.updated(metrics={"port": free_port()}, redis={"wait_replicas": 1})


@pytest.fixture
async def cluster(own: Settings) -> AsyncIterator[RedisCluster]:
    redis = redis_client(own)
    assert isinstance(redis, RedisCluster)
    yield redis
    await redis.aclose()


async def test_events_become_a_profile_the_api_reads_and_an_idle_cart_one_decision(
    own: Settings, cluster: RedisCluster
) -> None:
    topics, keys = own.topics, keys_of(own)
    assert keys.shards == 64, "a cluster shards its schedule by default"
    ann, bob, device = ids("ann"), ids("bob"), ids("phone")
    item = {"category": "shoes", "price": 49.5}
    await ensure_topics(own)
    with worker_process(own, ARTIFACTS / "logs", name="cluster-core") as worker:
        await produce(
            own,
            topics.identity,
            [
                (ann.encode(), dumps(event("traits", ann, ids("e"), device_ids=[device]))),
                (
                    ann.encode(),
                    dumps(event("consent", ann, ids("e"), channel="push", opted_in=True)),
                ),
            ],
        )
        # Topics are not ordered with each other: consent first, or the cart may be
        # checked before it (and settled as "no consent").
        await eventually(
            lambda: profile_fields(cluster, keys, ann), lambda p: "consent:push" in p, within=60
        )
        reading = proximity(device)
        # The device's owner is read before the reads of the customers' slots.
        await produce(own, topics.sensor, [(device.encode(), dumps(reading))])
        order = {"item_id": "sku-3", "category": "shoes", "quantity": 1, "unit_price": 49.5}
        other = {**order, "item_id": "sku-4"}
        await produce(
            own,
            topics.clickstream,
            [
                (ann.encode(), dumps(event("add_to_cart", ann, ids("e"), item_id="sku-1", **item))),
                (ann.encode(), dumps(event("add_to_cart", ann, ids("e"), item_id="sku-2", **item))),
            ],
        )
        purchase = event(
            "purchase",
            bob,
            ids("e"),
            order_id=ids("o"),
            total=99.0,
            currency="EUR",
            items=[order, other],
        )
        await produce(own, topics.purchase, [(bob.encode(), dumps(purchase))])

        stored = await eventually(
            lambda: profile_fields(cluster, keys, ann), lambda p: p.get("n") == "5", within=30
        )
        assert stored["n:add_to_cart"] == "2"
        assert stored["near_store"] == "store-7", "a device's reading found its owner"
        await eventually(
            lambda: profile_fields(cluster, keys, bob), lambda p: p.get("n") == "1", within=30
        )

        # Bob's order counted its pair once per item row (two slots, one run each). A
        # commit split by slot writes each slot on its own: the rows may land just after
        # the profile.
        async def pairs() -> tuple[float | None, float | None]:
            return (
                await cluster.zscore(keys.basket_item("sku-3"), "sku-4"),
                await cluster.zscore(keys.basket_item("sku-4"), "sku-3"),
            )

        assert await eventually(pairs, lambda got: None not in got, within=30) == (1.0, 1.0)

        now = datetime.now(UTC)
        app = create_app(own, redis=cluster, clock=lambda: now)
        token = await new_key(cluster, own, Scope.PROFILES_READ, now=now)
        async with client(app, token) as http:
            found = await http.get(f"/v1/profiles/{ann}")
        assert found.status_code == 200, found.text

        decisions = await decisions_until(own, ann, "cart_abandonment", within=60)
        assert worker.running, worker.log_tail()
    carts = [d for d in decisions if d.customer_id == ann and d.campaign_id == "cart_abandonment"]
    assert len(carts) == 1, "one idle cart, one reminder, claimed from its schedule shard"
    assert sorted(i.item_id for i in carts[0].content.items) == ["sku-1", "sku-2"]
    log = build_stores(cluster, own).decision_log  # in Ann's slot, written in her commit
    sent = ("sent", "cart_abandonment")
    logged = await eventually(
        lambda: log.read(ann), lambda es: sent in {(e.kind, e.campaign_id) for e in es}, within=30
    )
    assert sent in {(e.kind, e.campaign_id) for e in logged}, logged


async def test_a_commit_split_by_slot_writes_the_slots_whose_guards_hold_and_waits(
    cluster_settings: Settings,
) -> None:
    redis = redis_client(cluster_settings)
    assert isinstance(redis, RedisCluster)
    run = uuid.uuid4().hex[:8]
    keys = Keys(f"t{run}", shards=64)
    try:
        stale, fresh = keys.profile("stale"), keys.profile("fresh")
        await redis.set(stale, '{"v":2}')
        writes = Writes()
        writes.guard(stale, 1, "stale")  # written meanwhile: its slot writes nothing
        writes.add("SET", keys.memberships("stale"), "x")
        writes.guard(fresh, 0, "fresh")
        writes.add("SET", fresh, '{"v":1}')
        writes.add("HINCRBY", keys.stats(), "events", 2)
        done: set[int] = set()
        committer = Committer(redis, replicas=1, wait_ms=2000)
        assert await committer.commit(writes, done=done) == ["stale"]
        assert await redis.get(keys.memberships("stale")) is None
        assert await redis.get(fresh) == b'{"v":1}'
        assert done == {key_slot(fresh)}, "slots without a guard are sent again"
        # The retry skips the slot already written (its guard would fail now).
        assert await committer.commit(writes, done=done) == ["stale"]
        assert await redis.hget(keys.stats(), "events") == b"4", "shared slots: sent again"
        with pytest.raises(ReplicasBehind):  # one replica per master: 2 never ack
            await Committer(redis, replicas=2, wait_ms=100).commit(writes, done=set())
    finally:
        await redis.aclose()
