"""Profile features end to end: lateness, tastes, recents, basket, segments."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from redis.asyncio import Redis

from stream_app.devstack.processes import ManagedProcess
from stream_app.events.late import LateEvent
from stream_app.events.segment import SegmentChange
from stream_app.profiles.derive import derive
from stream_app.settings import Settings
from stream_app.storage.bundle import build_stores
from stream_app.storage.configured import profile_store
from stream_app.storage.layout import Keys
from tests.integration.fixtures import consume_until, dumps, eventually, produce, profile_fields

pytestmark = pytest.mark.integration


def ev(type_: str, customer: str, at: datetime, **fields: object) -> dict[str, object]:
    return {
        "type": type_,
        "event_id": f"e-{uuid.uuid4().hex[:12]}",
        "customer_id": customer,
        "event_time": at.isoformat(),
        **fields,
    }


async def test_profile_math_lateness_basket_and_segments(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    erin = f"erin-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    item = {"category": "shoes", "price": 80.0, "brand": "Kivo"}
    clicks = [
        ev("product_view", erin, now - timedelta(minutes=5), item_id="sku-a", **item),
        ev("product_view", erin, now - timedelta(minutes=4), item_id="sku-b", **item),
        ev("search", erin, now - timedelta(minutes=3), query="  Red RC  SUV "),
        ev("add_to_cart", erin, now - timedelta(minutes=2), item_id="sku-a", **item),
        # Late but within the allowed lateness (1 day): applied.
        ev("product_view", erin, now - timedelta(hours=20), item_id="sku-old", **item),
    ]
    too_late = ev("page_view", erin, now - timedelta(days=2), path="/")
    order = ev(
        "purchase",
        erin,
        now - timedelta(minutes=1),
        order_id=f"o-{uuid.uuid4().hex[:8]}",
        total=200.0,
        currency="EUR",
        items=[
            {"item_id": "sku-a", "category": "shoes", "quantity": 1, "unit_price": 80.0},
            {"item_id": "sku-c", "category": "socks", "quantity": 2, "unit_price": 60.0},
        ],
    )
    identity = [
        ev(
            "traits",
            erin,
            now - timedelta(minutes=9),
            birth_year=now.year - 30,
            gender="female",
            timezone="Europe/Berlin",
        ),
        ev("consent", erin, now - timedelta(minutes=9), channel="push", opted_in=True),
    ]
    key = erin.encode()
    await produce(settings, settings.topics.identity, [(key, dumps(e)) for e in identity])
    await produce(settings, settings.topics.clickstream, [(key, dumps(e)) for e in clicks])
    [late_offset] = await produce(settings, settings.topics.clickstream, [(key, dumps(too_late))])
    await produce(settings, settings.topics.purchase, [(key, dumps(order)), (key, dumps(order))])

    store = profile_store(redis, settings)

    fields = await eventually(
        lambda: profile_fields(redis, keys, erin), lambda f: f.get("n") == "8", within=60
    )
    assert fields["n:purchase"] == "1", "the redelivered order counted once"
    [stored] = await store.stored([erin])
    view = derive(stored, datetime.now(UTC), settings.profiles.value_rules())
    assert view.orders == 1
    assert view.monetary == pytest.approx(200.0)
    assert view.avg_unit_price == pytest.approx(200.0 / 3)
    assert view.cart == (), "the order emptied the cart"
    assert list(view.viewed)[:2] == ["sku-b", "sku-a"]
    assert "sku-old" in view.viewed
    assert list(view.searches) == ["red rc suv"]
    assert view.top_categories[0] == "shoes"
    # 3 shoe views (1 each) + cart (3) + order line (5), barely decayed within a day.
    assert view.tastes["c:shoes"] == pytest.approx(12.0, rel=0.1)
    assert view.tastes["b:Kivo"] == pytest.approx(6.0, rel=0.1)
    assert (view.age, view.gender, view.tier) == (30, "female", "new")

    routed = await consume_until(
        settings,
        settings.topics.late,
        lambda seen: any(
            orjson.loads(r.value)["source_offset"] == late_offset
            and orjson.loads(r.value)["source_topic"] == settings.topics.clickstream
            for r in seen
        ),
        within=30,
    )
    [late] = [
        e
        for e in (LateEvent.model_validate_json(r.value) for r in routed if r.value)
        if e.source_offset == late_offset and e.source_topic == settings.topics.clickstream
    ]
    assert late.event["event_id"] == too_late["event_id"], "on the late topic, with the event"

    basket = build_stores(redis, settings).basket
    assert ("sku-c", 1) in await basket.items_with("sku-a")
    assert await basket.categories_with("socks") == [("shoes", 1)] or (
        ("shoes", 1) in await basket.categories_with("socks")
    )

    changes = await consume_until(
        settings,
        settings.topics.segments,
        lambda seen: any(r.key == key for r in seen),
        within=30,
    )
    entered = {
        SegmentChange.model_validate_json(r.value).segment
        for r in changes
        if r.key == key and r.value
    }
    assert "young_women_suv_search" in entered
    assert await redis.sismember(keys.segment("young_women_suv_search"), erin)
