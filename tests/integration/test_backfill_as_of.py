"""As-of exactness: a profile built by backfill, read as of its last event, is the one the
same events build live.

The same year of each customer (views, carts, orders, returns, a consent on another topic)
is sent twice to one worker: live under one id, marked as backfill under another. The
live settings admit the whole year (age limit and allowed lateness above it), so the only
difference is the mode. Read as of each customer's last event, the API's profile (life
cycle, recency, decayed tastes, rhythm, segments, value, traits, cart, recent lists)
is the same both ways."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from bench.backfill import as_of_last_event
from stream_app.devstack.ports import free_port
from stream_app.devstack.workers import worker_process
from stream_app.kafka_topics import ensure_topics
from stream_app.producers.replay import replay_file
from stream_app.settings import Settings
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import eventually, isolated
from tests.integration.test_backfill import year_of
from tests.oracle.redis_view import stats

pytestmark = pytest.mark.integration

YEAR = timedelta(days=400)


def as_(mode: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same events of another customer id (``<mode>-<id>``), with their own event ids."""
    return [
        {**e, "customer_id": f"{mode}-{e['customer_id']}", "event_id": f"{mode}-{e['event_id']}"}
        for e in events
    ]


def _log(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


async def test_a_backfilled_profile_as_of_its_last_event_is_the_live_built_one(
    settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    own, _ = isolated(settings, "asof", tmp_path / "faust")
    own = own.updated(
        metrics={"port": free_port()},
        worker={"max_event_age": YEAR},
        profiles={"allowed_lateness": YEAR},
    )
    rng = random.Random(1617)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    customers = [f"c{n}{uuid.uuid4().hex[:6]}" for n in range(4)]
    year = sorted(
        (e for c in customers for e in year_of(c, end, rng)), key=lambda e: e["event_time"]
    )
    await ensure_topics(own)
    await replay_file(own, _log(tmp_path / "live.jsonl", as_("L", year)), envelope_size=1)
    history = _log(tmp_path / "history.jsonl", as_("B", year))
    await replay_file(own, history, backfill=True, envelope_size=5)

    with worker_process(own, ARTIFACTS / "logs", name="backfill-as-of") as process:
        counted = await eventually(
            lambda: stats(redis, own.redis.key_prefix),
            lambda s: s.get("events_applied", 0) >= 2 * len(year),
            within=120.0,
        )
        assert counted.get("events_applied") == 2 * len(year), sorted(counted.items())
        assert counted.get("events_backfilled") == len(year)
        live = await as_of_last_event(own, [f"L-{c}" for c in customers])
        back = await as_of_last_event(own, [f"B-{c}" for c in customers])
        assert process.running, process.log_tail()
    assert len(live) == len(back) == len(customers)
    for cid in customers:
        assert back[f"B-{cid}"] == live[f"L-{cid}"], cid
