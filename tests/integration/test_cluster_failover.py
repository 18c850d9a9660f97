"""A Redis Cluster master SIGKILLed mid-stream: its replica is promoted, the worker carries
on, every event is applied exactly once and no reminder is lost or sent twice.

A cluster of its own (3 masters, a replica each, 1 s node timeout: the session's
``redis_cluster`` must never lose a node), the worker waiting for one replica per batch
(``redis.wait_replicas``), so a write acknowledged before the kill is on the replica
that takes over. Every customer gets one event before the kill and one sent while the
master is down. The killed node is restarted once its replica took over (it rejoins as
that one's replica), since the worker waits until a batch has a replica again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from aiokafka.structs import ConsumerRecord

from stream_app.devstack.ports import free_port
from stream_app.devstack.redis_cluster import ClusterShape, LocalRedisCluster
from stream_app.devstack.workers import worker_process
from stream_app.events.decision import Decision
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.storage.configured import keys_of
from stream_app.storage.connection import redis_client
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import (
    consume_until,
    dumps,
    event,
    event_counts,
    eventually,
    isolated,
    produce,
)
from tests.integration.fixtures import read_to_end as read_topics

pytestmark = pytest.mark.integration

CUSTOMERS = 24
ITEM = {"category": "shoes", "price": 49.5}


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def _counts(
    settings: Settings, cluster: LocalRedisCluster, customers: list[str]
) -> dict[str, dict[str, int]]:
    """The customers' event counts, read by a fresh client seeded with a live node (the
    settings' node may be the one killed)."""
    client = redis_client(settings.updated(redis={"url": cluster.url}))
    try:
        return await event_counts(client, keys_of(settings), customers)  # type: ignore[arg-type]
    finally:
        await client.aclose()


def _carts(settings: Settings, customers: list[str], n: int) -> list[tuple[bytes, bytes]]:
    return [
        (c.encode(), dumps(event("add_to_cart", c, _id("e"), item_id=f"sku-{n}", **ITEM)))
        for c in customers
    ]


def _decisions(records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[Decision]:
    return [Decision.model_validate_json(r.value) for r in records if r.value]


def _reminded(records: Sequence[ConsumerRecord[bytes, bytes]]) -> set[str]:
    """The customers with a cart reminder among ``records`` (decisions)."""
    return {d.customer_id for d in _decisions(records) if d.campaign_id == "cart_abandonment"}


async def test_a_master_killed_mid_stream_loses_and_doubles_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    shape = ClusterShape(masters=3, replicas_per_master=1, node_timeout_ms=1000)
    with LocalRedisCluster(tmp_path / "cluster", shape) as cluster:
        own, _ = isolated(settings, "fo", tmp_path / "faust")
        own = own.updated(
            redis={"url": cluster.url, "cluster": True, "wait_replicas": 1},
            metrics={"port": free_port()},
        )
        customers = [_id("fo") for _ in range(CUSTOMERS)]
        await ensure_topics(own)
        with worker_process(own, ARTIFACTS / "logs", name="cluster-failover") as worker:
            consents = [
                (c.encode(), dumps(event("consent", c, _id("e"), channel="push", opted_in=True)))
                for c in customers
            ]
            await produce(own, own.topics.identity, consents)
            await eventually(
                lambda: _counts(own, cluster, customers),
                lambda got: all(got[c].get("n") == 1 for c in customers),
                within=60,
            )
            await produce(own, own.topics.clickstream, _carts(own, customers, 1))
            dead = cluster.kill_master(0)  # while the worker applies those
            await produce(own, own.topics.clickstream, _carts(own, customers, 2))
            await asyncio.to_thread(cluster.wait_failover, dead, 30.0)
            # The promoted master has no replica to WAIT for: the worker holds its
            # batch until the killed node is back (a restart policy's job) as its replica.
            await asyncio.to_thread(cluster.rejoin, dead)
            got = await eventually(
                lambda: _counts(own, cluster, customers),
                lambda got: all(got[c].get("n") == 3 for c in customers),
                within=90,
            )
            # idle carts fall due (2 s) and are decided: until every customer is reminded
            await consume_until(
                own,
                own.topics.decisions,
                lambda seen: _reminded(seen) >= set(customers),
                within=60,
            )
            assert worker.running, worker.log_tail()
        records = await read_topics(own, [own.topics.decisions])
    assert {c: got[c] for c in customers} == {
        c: {"n": 3, "n:consent": 1, "n:add_to_cart": 2} for c in customers
    }, "every event applied exactly once"
    copies = Counter(d.decision_id for d in _decisions(records))
    assert [i for i, n in copies.items() if n > 1] == [], "a decision published twice"
    assert _reminded(records) == set(customers), "every idle cart reminded"
