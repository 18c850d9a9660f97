"""Quiet hours that fit the customer, on the real stack: with the store's quiet hours
starting this very hour, a customer consistently active now is messaged at once (and
the decision says why), one without that history is not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from stream_app.devstack.ports import free_port
from stream_app.devstack.workers import worker_process
from stream_app.events.decision import Decision
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.storage.layout import Keys
from stream_app.storage.stats import StatsStore
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import consume_until, dumps, event, eventually, isolated, produce

pytestmark = pytest.mark.integration


async def test_a_customer_active_now_is_messaged_inside_the_store_quiet_hours(
    settings: Settings, redis: Redis, tmp_path_factory: pytest.TempPathFactory
) -> None:
    now = datetime.now(UTC)
    start = now.hour  # customers without a zone live in UTC: quiet from now for 10 hours
    own, run = isolated(settings, "qf", tmp_path_factory.mktemp("faust-quiet"))
    own = own.updated(
        metrics={"port": free_port()},
        decisions={"quiet_hours": (start, (start + 10) % 24)},
    )
    owl, sleeper = f"owl-{run}", f"sleeper-{run}"
    # The owl's last four days: visits in this hour and the next (4 distinct weekdays),
    # oldest first (an event older than the customer's newest by more than the allowed
    # lateness would go to the late topic).
    history = [
        event("page_view", owl, uuid.uuid4().hex, path="/", event_time=moment.isoformat())
        for days in range(4, 0, -1)
        for hours in (0, 1)
        for moment in [now - timedelta(days=days) + timedelta(hours=hours)]
    ]
    consents = [
        event("consent", c, uuid.uuid4().hex, channel="push", opted_in=True) for c in (owl, sleeper)
    ]
    carts = [
        event("add_to_cart", c, uuid.uuid4().hex, item_id="sku-1", category="toys", price=20.0)
        for c in (owl, sleeper)
    ]
    assert await ensure_topics(own)
    stats = StatsStore(redis, Keys(own.redis.key_prefix))
    with worker_process(own, ARTIFACTS / "logs", name=f"worker-quiet-{run}"):
        await produce(own, own.topics.clickstream, [(owl.encode(), dumps(e)) for e in history])
        await eventually(stats.read, lambda s: s.get("events_applied", 0) >= 8, within=60)
        identity = [(e["customer_id"].encode(), dumps(e)) for e in consents]
        await produce(own, own.topics.identity, identity)
        # Consent before the carts (Kafka orders records per partition only).
        await eventually(stats.read, lambda s: s.get("events_applied", 0) >= 10, within=60)
        await produce(
            own, own.topics.clickstream, [(e["customer_id"].encode(), dumps(e)) for e in carts]
        )
        records = await consume_until(
            own, own.topics.decisions, lambda seen: any(r.key == owl.encode() for r in seen)
        )
        counted = await eventually(
            stats.read, lambda s: s.get("decisions_suppressed:quiet_hours", 0) >= 1, within=60
        )
    [decision] = [Decision.model_validate_json(r.value) for r in records if r.key == owl.encode()]
    assert decision.send_at - decision.decided_at < timedelta(minutes=1)
    window = f"{start:02d}:00-{(start + 10) % 24:02d}:00"
    assert f"outside store quiet hours {window}: usually active" in (decision.explanation or "")
    assert all(r.key != sleeper.encode() for r in records)
    assert counted["decisions_suppressed:quiet_hours"] == 1
