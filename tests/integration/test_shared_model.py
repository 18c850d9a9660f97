"""Two workers, one model: both score with one snapshot that learned from both.

Two workers of one group share four partitions. Customers of each worker's
partitions abandon carts and click the reminders; a click's label is taken by
the worker holding the customer's partition and sent to the one learner (the
worker holding the labels topic's single partition). The published snapshot
then counts labels from both workers, both workers' metrics say they score
with that version, and the next decisions of customers of both carry it.
"""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from stream_app.devstack.ports import free_port
from stream_app.devstack.processes import ManagedProcess
from stream_app.devstack.workers import worker_process
from stream_app.events.decision import Decision
from stream_app.kafka_topics import ensure_topics
from stream_app.metrics.scrape import parse_metrics
from stream_app.model.shared import FROM
from stream_app.settings import Settings
from stream_app.storage.layout import Keys
from stream_app.storage.scoring import ModelStore, Snapshot
from stream_app.streaming.learning import MODEL
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import (
    consume_until,
    customers_per_partition,
    dumps,
    event,
    eventually,
    isolated,
    produce,
)
from tests.integration.test_learning import abandon_cart
from tests.integration.test_two_workers import JOIN_WITHIN_S, assignments, log_size

pytestmark = pytest.mark.integration

PARTITIONS = 4
#: Customers per partition that abandon a cart and click (each worker's labels).
CLICKERS = 1


async def decisions_of(settings: Settings, customers: list[str]) -> dict[str, Decision]:
    wanted = {c.encode() for c in customers}
    records = await consume_until(
        settings,
        settings.topics.decisions,
        lambda seen: wanted <= {r.key for r in seen if r.value},
        within=60,
    )
    out = {}
    for r in records:
        if r.key in wanted and r.value:
            decision = Decision.model_validate_json(r.value)
            out[decision.customer_id] = decision
    return out


async def click(settings: Settings, decisions: dict[str, Decision]) -> None:
    await produce(
        settings,
        settings.topics.feedback,
        [
            (
                cid.encode(),
                dumps(event("clicked", cid, f"fb-{uuid.uuid4().hex}", decision_id=d.decision_id)),
            )
            for cid, d in decisions.items()
        ],
    )


async def scoring_version(port: int) -> str | None:
    """The model version a worker's metrics say it scores with (None: not yet)."""
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            answer = await client.get(f"http://127.0.0.1:{port}/metrics")
        return parse_metrics(answer.text).model_version
    except (httpx.HTTPError, ValueError):
        return None


async def test_two_workers_score_with_one_model_that_learned_from_both(
    settings: Settings, tmp_path: Path
) -> None:
    own, run = isolated(settings, "sm")
    mine = own.updated(
        kafka={"topic_partitions": PARTITIONS},
        # Clicks, never the window's end, label these decisions: by the partition's worker.
        model={"attribution_window": timedelta(minutes=5)},
    )
    await ensure_topics(mine)
    keys = Keys(mine.redis.key_prefix)
    ports = {"a": free_port(), "b": free_port()}

    def one(name: str) -> ManagedProcess:
        each = mine.updated(
            worker={"data_dir": str(tmp_path / f"faust-{name}")},
            metrics={"port": ports[name]},
        )
        return worker_process(each, ARTIFACTS / "logs", name=f"shared-model-{name}")

    a, b = one("a"), one("b")
    since = {p.name: log_size(p) for p in (a, b)}
    clicks = mine.topics.clickstream

    async def parts() -> list[set[int]]:
        for process in (a, b):
            assert process.running, f"{process.name} died:\n{process.log_tail()}"
        found = [assignments(p, since[p.name], clicks) for p in (a, b)]
        return [f[-1] if f else set() for f in found]

    def split(found: list[set[int]]) -> bool:
        left, right = found
        return bool(left and right and not left & right and left | right == set(range(4)))

    by_partition = customers_per_partition(f"sm-{run}", PARTITIONS, CLICKERS + 1)
    redis = Redis.from_url(mine.redis.url)
    models = ModelStore(redis, keys)
    try:
        with a, b:
            found = await eventually(parts, split, within=JOIN_WITHIN_S)
            assert split(found), f"no shared assignment (a, b) within {JOIN_WITHIN_S} s: {found}"
            first = [c for group in by_partition.values() for c in group[:CLICKERS]]
            await asyncio.gather(*(abandon_cart(mine, redis, keys, c) for c in first))
            decided = await decisions_of(mine, first)
            assert all(
                re.fullmatch(r"lr-g\d+-\d+", d.model_version or "") for d in decided.values()
            )
            await click(mine, decided)

            host = socket.gethostname()
            origins = {f"{FROM}{host}-{p.pid}" for p in (a, b)}

            async def published() -> Snapshot | None:
                return await models.snapshot(MODEL)

            def from_both(s: Snapshot | None) -> bool:
                return s is not None and sum(s.meta.get(o, 0) for o in origins) >= len(first)

            snapshot = await eventually(published, from_both, within=60)
            assert snapshot is not None
            assert from_both(snapshot), f"labels by worker: {snapshot.meta}"
            assert all(snapshot.meta.get(o, 0) >= 1 for o in origins), snapshot.meta

            async def versions() -> list[str | None]:
                return [await scoring_version(port) for port in ports.values()]

            seen = await eventually(versions, lambda v: v == [snapshot.version] * 2, within=30)
            assert seen == [snapshot.version] * 2, f"published {snapshot.version}, scoring {seen}"

            later = [c for group in by_partition.values() for c in group[CLICKERS:]]
            await asyncio.gather(*(abandon_cart(mine, redis, keys, c) for c in later))
            latest = await decisions_of(mine, later)
            assert {d.model_version for d in latest.values()} == {snapshot.version}
            for process in (a, b):
                assert process.running, f"{process.name} died:\n{process.log_tail()}"
    finally:
        await redis.aclose()
