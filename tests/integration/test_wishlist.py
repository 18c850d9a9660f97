"""Wishlists on the real stack: a price drop or restock of a wished item reaches whoever
still wishes it (docs/profile.md, "Wishlist"), whenever they wished it."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from stream_app.devstack.processes import ManagedProcess
from stream_app.settings import Settings
from stream_app.storage.layout import Keys
from stream_app.storage.profiles import decode_state
from tests.integration.fixtures import consume_until, dumps, event, eventually, produce
from tests.integration.test_decisions import consent, decisions_on, drop_price, uid

pytestmark = pytest.mark.integration


async def wish(
    settings: Settings, redis: Redis, keys: Keys, customer: str, item: str, *, on: bool = True
) -> None:
    """A wishlist add (or removal), returning once the item's wishers say so: a catalog
    change on another topic sent right after could otherwise be read first."""
    kind, extra = ("add_to_wishlist", {"category": "toys"}) if on else ("remove_from_wishlist", {})
    payload = event(kind, customer, uid("e"), item_id=item, **extra)
    await produce(settings, settings.topics.clickstream, [(customer.encode(), dumps(payload))])
    await eventually(
        lambda: redis.zscore(keys.wishers(item), customer),
        lambda score: (score is not None) == on,
        within=30,
    )


async def test_a_price_drop_reaches_who_wishes_the_item_not_who_took_it_off(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    wisher, changed_mind, item = uid("wish"), uid("unwish"), uid("sku")
    await consent(settings, redis, keys, wisher, changed_mind)
    await wish(settings, redis, keys, wisher, item)
    await wish(settings, redis, keys, changed_mind, item)
    await wish(settings, redis, keys, changed_mind, item, on=False)
    stored = decode_state(wisher, await redis.get(keys.profile(wisher)))
    assert stored.wishlist[item][2] == 1
    assert stored.tastes.sums.get("c:toys", 0) > 0, "a wish is a taste"
    await drop_price(settings, item, 70.0)
    [decision] = await decisions_on(settings, settings.topics.decisions, [wisher])
    assert decision.trigger == "price_drop"
    assert [i.item_id for i in decision.content.items] == [item]
    assert "on your wishlist" in decision.explanation
    assert "30% cheaper" in decision.explanation
    records = await consume_until(settings, settings.topics.decisions, lambda _: False, within=2)
    assert all(r.key != changed_mind.encode() for r in records), "a removed wish has no message"
