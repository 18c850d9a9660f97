"""Scheduled decisions survive a worker crash: each is sent once, by the next worker.

A worker of its own (own group, topics and keys), killed while its decisions
wait in Redis for their send time, then replaced by a fresh one.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from stream_app.devstack.workers import worker_process
from stream_app.events.decision import Decision
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.storage.connection import redis_client
from stream_app.storage.layout import Keys
from stream_app.storage.stats import StatsStore
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import consume_until, dumps, event, eventually, isolated, produce

pytestmark = pytest.mark.integration

CAMPAIGN = """
[[campaigns]]
id = "store_nearby"
trigger = { type = "geofence", within = "PT15M" }
channels = ["push"]
urgency = { earliest = "PT10S", latest = "PT1H" }
send_time = "earliest"
holdout = 0.0
goal = "visit"
"""


@pytest.fixture(scope="module")
def restart_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    campaigns = tmp_path_factory.mktemp("restart") / "campaigns.toml"
    campaigns.write_text(CAMPAIGN)
    own, _ = isolated(settings, "r", tmp_path_factory.mktemp("faust-restart"))
    return own.updated(decisions={"campaigns_file": campaigns})


async def test_decisions_scheduled_before_a_crash_are_sent_once_after_it(
    restart_settings: Settings,
) -> None:
    settings = restart_settings
    await ensure_topics(settings)
    customers = [f"rs-{uuid.uuid4().hex[:8]}" for _ in range(6)]
    logs = Path(ARTIFACTS) / "logs"
    redis = redis_client(settings)
    stats = StatsStore(redis, Keys(settings.redis.key_prefix))
    try:
        first = worker_process(settings, logs, name="restart-a")
        with first:
            await produce(
                settings,
                settings.topics.identity,
                [
                    (
                        c.encode(),
                        dumps(event("consent", c, f"e-{c}-c", channel="push", opted_in=True)),
                    )
                    for c in customers
                ],
            )
            # Kafka orders records per partition only: a visit read before the consent
            # would be (rightly) suppressed. Send the visits once the consents are in.
            await eventually(
                stats.read, lambda s: s.get("events_applied", 0) >= len(customers), within=30
            )
            await produce(
                settings,
                settings.topics.sensor,
                [
                    (
                        c.encode(),
                        dumps(event("proximity", c, f"e-{c}-p", store_id="s-1", distance_m=20.0)),
                    )
                    for c in customers
                ],
            )
            planned = await eventually(
                stats.read, lambda s: s.get("decisions_planned", 0) >= len(customers), within=30
            )
            assert planned.get("decisions_planned", 0) == len(customers), planned
            assert planned.get("decisions_emitted", 0) == 0, "not before their send time"
            first.stop(timeout=0)  # SIGKILL: no goodbye, leases and offsets as they were
        second = worker_process(settings, logs, name="restart-b")
        with second:
            records = await consume_until(
                settings,
                settings.topics.decisions,
                lambda seen: {r.key for r in seen} >= {c.encode() for c in customers},
                within=60,
            )
            await asyncio.sleep(2)  # room for a duplicate to show up
            records = await consume_until(
                settings, settings.topics.decisions, lambda _: False, within=2
            )
        decisions = [Decision.model_validate_json(r.value) for r in records if r.value]
        assert sorted(d.customer_id for d in decisions) == sorted(customers), "each sent once"
        assert len({d.decision_id for d in decisions}) == len(customers)
        final = await stats.read()
        assert final.get("decisions_emitted", 0) == len(customers)
    finally:
        await redis.aclose()
