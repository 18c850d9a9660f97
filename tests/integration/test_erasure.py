"""Right to erasure through the real worker: everything of the customer goes, and stays gone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from stream_app.devstack.processes import ManagedProcess
from stream_app.settings import Settings
from stream_app.storage.erasure import ErasureStore
from stream_app.storage.layout import Keys
from stream_app.storage.stats import StatsStore
from tests.integration.fixtures import (
    consume_until,
    dumps,
    event,
    eventually,
    produce,
    profile_fields,
)

pytestmark = pytest.mark.integration


async def customer_keys(redis: Redis, keys: Keys, customer: str) -> list[str]:
    found = [k.decode() async for k in redis.scan_iter(match=keys.of_customer(customer))]
    return sorted(found)


async def test_an_erased_customer_leaves_no_trace_and_later_events_are_dropped(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    cid = f"gdpr-{uuid.uuid4().hex[:8]}"
    key = cid.encode()
    stats = StatsStore(redis, keys)
    before = await stats.read()
    await produce(
        settings,
        settings.topics.identity,
        [
            (key, dumps(event("traits", cid, f"e-{cid}-t", email=f"{cid}@example.test"))),
            (key, dumps(event("consent", cid, f"e-{cid}-c", channel="push", opted_in=True))),
        ],
    )
    item = {"item_id": "sku-1", "category": "shoes", "price": 80.0}
    wish = f"sku-w-{cid}"
    await produce(
        settings,
        settings.topics.clickstream,
        [
            (key, dumps(event("product_view", cid, f"e-{cid}-v", **item))),
            (key, dumps(event("add_to_cart", cid, f"e-{cid}-a", **item, quantity=1))),
            (
                key,
                dumps(event("add_to_wishlist", cid, f"e-{cid}-w", item_id=wish, category="shoes")),
            ),
        ],
    )
    # Kafka orders records per partition only: the visit is sent once consent and the
    # clicks are applied (read after it, consent missing suppresses the nudge, a view
    # after it reaches the goal and cancels it).
    await eventually(
        lambda: profile_fields(redis, keys, cid),
        lambda f: f.get("consent:push") == "1" and "n:add_to_wishlist" in f,
        within=30,
    )
    near = event("proximity", cid, f"e-{cid}-p", store_id="store-1", distance_m=30.0)
    await produce(settings, settings.topics.sensor, [(key, dumps(near))])

    async def traces() -> dict[str, object]:
        members = await redis.smembers(keys.segment("open_cart_push_ok"))
        return {
            "keys": await customer_keys(redis, keys, cid),
            "segment": cid.encode() in members,
            "pending": await redis.hlen(keys.pending(cid)),
            "wished": await redis.zscore(keys.wishers(wish), cid),
        }

    seen = await eventually(
        traces,
        lambda t: all(t[k] is not None and t[k] for k in ("segment", "pending", "wished")),
        within=30,
    )
    assert seen["segment"], f"the cart put the customer in a segment: {seen}"
    assert seen["pending"], "the store nudge waits for its send time (4 s)"

    erased_at = datetime.now(UTC)
    await ErasureStore(redis, keys).erase(cid, erased_at)

    assert await customer_keys(redis, keys, cid) == [keys.erased(cid)]
    assert cid.encode() not in await redis.smembers(keys.segment("open_cart_push_ok"))
    assert cid.encode() in await redis.smembers(keys.erasures())
    due = [m.decode() for m in await redis.zrange(keys.due(), 0, -1)]
    assert not [m for m in due if cid in m], "no check of the customer is left"
    assert cid.encode() not in await redis.zrange(keys.viewers("sku-1"), 0, -1)
    assert await redis.zscore(keys.wishers(wish), cid) is None

    await produce(
        settings,
        settings.topics.clickstream,
        [(key, dumps(event("product_view", cid, f"e-{cid}-v2", **item)))],
    )
    after = await eventually(
        stats.read,
        lambda s: s.get("events_dropped:erased", 0) > before.get("events_dropped:erased", 0),
        within=20,
    )
    assert after.get("events_dropped:erased", 0) > before.get("events_dropped:erased", 0)
    assert await customer_keys(redis, keys, cid) == [keys.erased(cid)], "nothing comes back"
    sent = await consume_until(settings, settings.topics.decisions, lambda _: False, within=6)
    later = [r for r in sent if r.key == key and r.timestamp > erased_at.timestamp() * 1000]
    assert not later, "the planned nudge was forgotten too: nothing is sent after the erasure"
