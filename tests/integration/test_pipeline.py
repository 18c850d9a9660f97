"""The walking skeleton end to end: events on Kafka -> worker -> Redis profiles + decisions."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from stream_app.devstack.processes import ManagedProcess
from stream_app.settings import Settings
from stream_app.storage.layout import Keys
from tests.integration.fixtures import (
    decisions_until,
    dumps,
    event,
    eventually,
    ids,
    produce,
    profile_fields,
    proximity,
)

pytestmark = pytest.mark.integration


async def test_events_become_profiles_and_an_idle_cart_becomes_one_decision(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    topics = settings.topics
    ann, bob = ids("ann"), ids("bob")
    email, device = f"{ann}@example.test", ids("phone")
    item = {"category": "shoes", "price": 49.5}
    await produce(
        settings,
        topics.identity,
        [
            (
                ann.encode(),
                dumps(
                    event(
                        "traits",
                        ann,
                        ids("e"),
                        email=email,
                        device_ids=[device],
                        timezone="Europe/Berlin",
                    )
                ),
            ),
            (ann.encode(), dumps(event("consent", ann, ids("e"), channel="push", opted_in=True))),
            (bob.encode(), dumps(event("consent", bob, ids("e"), channel="push", opted_in=True))),
        ],
    )
    await produce(
        settings,
        topics.clickstream,
        [
            (ann.encode(), dumps(event("add_to_cart", ann, ids("e"), item_id="sku-1", **item))),
            (ann.encode(), dumps(event("add_to_cart", ann, ids("e"), item_id="sku-2", **item))),
            (bob.encode(), dumps(event("add_to_cart", bob, ids("e"), item_id="sku-3", **item))),
            (bob.encode(), dumps(event("checkout_start", bob, ids("e")))),
        ],
    )
    await produce(
        settings,
        topics.purchase,
        [
            (
                bob.encode(),
                dumps(
                    event(
                        "purchase",
                        bob,
                        ids("e"),
                        order_id=ids("o"),
                        total=49.5,
                        currency="EUR",
                        items=[
                            {
                                "item_id": "sku-3",
                                "category": "shoes",
                                "quantity": 1,
                                "unit_price": 49.5,
                            }
                        ],
                    )
                ),
            ),
        ],
    )
    # Kafka orders records per partition only: the reading may be read before the traits
    # that link its device. Send it once they are applied (an early reading waits for
    # them: tests/integration/test_unlinked_devices.py).
    await eventually(lambda: profile_fields(redis, keys, ann), lambda p: "n:traits" in p, within=60)
    reading = proximity(device)
    await produce(settings, topics.sensor, [(device.encode(), dumps(reading))])

    ann_profile = await eventually(
        lambda: profile_fields(redis, keys, ann), lambda p: p.get("n") == "5", within=60
    )
    assert ann_profile["n:add_to_cart"] == "2"
    assert ann_profile["n:proximity"] == "1", "device-only sensor event resolved to its customer"
    assert ann_profile["near_store"] == "store-7"
    assert ann_profile["consent:push"] == "1"
    assert ann_profile["timezone"] == "Europe/Berlin"
    assert int(ann_profile["first_seen"]) <= int(ann_profile["last_seen"])
    bob_profile = await eventually(
        lambda: profile_fields(redis, keys, bob), lambda p: p.get("n") == "4", within=30
    )
    assert bob_profile["spend:EUR"] == "4950", "exact, in cents"

    decisions = await decisions_until(settings, ann, "cart_abandonment", within=30)
    carts = [d for d in decisions if d.campaign_id == "cart_abandonment"]
    ann_decisions = [d for d in carts if d.customer_id == ann]
    assert len(ann_decisions) == 1, "one idle cart, one reminder"
    [reminder] = ann_decisions
    assert reminder.campaign_id == "cart_abandonment"
    assert sorted(i.item_id for i in reminder.content.items) == ["sku-1", "sku-2"]
    assert "cart of 2 items idle" in reminder.explanation
    assert all(d.customer_id != bob for d in carts), "bob bought his cart: no reminder"

    # Raw contact handles are never stored: scan every key and value of this run.
    async for key in redis.scan_iter(match=keys.of_deployment()):
        assert email.encode() not in key
        assert device.encode() not in key
        if await redis.type(key) == b"hash":  # values may be binary (model checkpoints)
            blob = b"\0".join(k + b"\0" + v for k, v in (await redis.hgetall(key)).items())
            assert email.encode() not in blob
            assert device.encode() not in blob


async def test_an_envelope_carries_many_events_in_one_record(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    carol = ids("carol")
    batch = {"events": [event("page_view", carol, ids("e"), path=f"/p/{i}") for i in range(50)]}
    await produce(settings, settings.topics.clickstream, [(carol.encode(), dumps(batch))])
    carol_profile = await eventually(
        lambda: profile_fields(redis, keys, carol), lambda p: p.get("n") == "50", within=60
    )
    assert carol_profile["n:page_view"] == "50"
