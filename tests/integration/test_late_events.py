"""Late is not bad, end to end: an order redelivered long after the lateness window is a
duplicate (its id is kept as long as the profile), and a new event older than the
window goes to the late topic, counted, never to the dead-letter topic."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from stream_app.clock import to_ms
from stream_app.devstack.processes import ManagedProcess
from stream_app.events.late import LateEvent
from stream_app.settings import Settings
from stream_app.storage.layout import Keys, event_key
from tests.integration.fixtures import consume_until, event, eventually, produce, profile_fields

pytestmark = pytest.mark.integration


def ev(type_: str, customer: str, at: datetime, **fields: object) -> dict[str, Any]:
    """An event of ``customer`` at ``at``, with an id of its own."""
    return event(type_, customer, f"e-{uuid.uuid4().hex[:12]}", event_time=at.isoformat(), **fields)


async def _stats(redis: Redis, keys: Keys) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in (await redis.hgetall(keys.stats())).items()}


def _dead(stats: Mapping[str, int]) -> int:
    return sum(n for name, n in stats.items() if name.startswith("dead_letters:"))


async def test_a_week_old_redelivered_order_is_a_duplicate_and_a_late_event_is_routed(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    cid = f"late-{uuid.uuid4().hex[:8]}"
    key = cid.encode()
    now = datetime.now(UTC).replace(microsecond=0)
    lateness = settings.profiles.allowed_lateness
    order = ev(
        "purchase",
        cid,
        now - 3 * lateness,
        order_id=f"o-{uuid.uuid4().hex[:8]}",
        total=20.0,
        currency="EUR",
        items=[{"item_id": "sku-a", "category": "shoes", "quantity": 1, "unit_price": 20.0}],
    )
    newest = ev("page_view", cid, now, path="/")
    before = await _stats(redis, keys)

    await produce(settings, settings.topics.purchase, [(key, orjson.dumps(order))])
    await eventually(lambda: profile_fields(redis, keys, cid), lambda f: f.get("n") == "1")
    await produce(settings, settings.topics.clickstream, [(key, orjson.dumps(newest))])
    fields = await eventually(lambda: profile_fields(redis, keys, cid), lambda f: f.get("n") == "2")
    assert fields["last_seen"] == str(to_ms(now))
    order_key = event_key(str(order["event_id"]))
    assert await redis.sismember(keys.orders(cid), order_key), "kept in the order index"
    assert await redis.zscore(keys.seen(cid), order_key) is None, "not in the windowed one"

    # The order again, its time now 2 days beyond the window: a duplicate, not late.
    await produce(settings, settings.topics.purchase, [(key, orjson.dumps(order))])
    after = await eventually(
        lambda: _stats(redis, keys),
        lambda s: s.get("events_duplicate", 0) > before.get("events_duplicate", 0),
    )
    assert after.get("events_duplicate", 0) - before.get("events_duplicate", 0) == 1
    assert _dead(after) == _dead(before), "nothing dead-lettered"
    assert after.get("events_late:purchase", 0) == before.get("events_late:purchase", 0)

    # A new event that old: routed to the late topic with why, counted, not applied.
    stale = ev("page_view", cid, now - 2 * lateness, path="/old")
    [offset] = await produce(settings, settings.topics.clickstream, [(key, orjson.dumps(stale))])
    records = await consume_until(
        settings,
        settings.topics.late,
        lambda seen: any(r.key == key for r in seen),
        within=60,
    )
    [late] = [LateEvent.model_validate_json(r.value) for r in records if r.key == key and r.value]
    assert (late.event["event_id"], late.event["path"]) == (stale["event_id"], "/old")
    assert (late.customer_id, late.stream, late.reason) == (
        cid,
        "clickstream",
        "beyond_allowed_lateness",
    )
    assert (late.source_topic, late.source_offset) == (settings.topics.clickstream, offset)
    assert late.newest_event_time == now
    assert late.allowed_lateness_ms == int(lateness.total_seconds() * 1000)
    final = await eventually(
        lambda: _stats(redis, keys),
        lambda s: s.get("events_late:clickstream", 0) > before.get("events_late:clickstream", 0),
    )
    assert final.get("events_late:clickstream", 0) - before.get("events_late:clickstream", 0) == 1
    assert _dead(final) == _dead(before), "the dead-letter topic is for broken input"
    fields = await profile_fields(redis, keys, cid)
    assert (fields["n"], fields["n:purchase"]) == ("2", "1")
