"""Right-time decisions on the real stack: catalog triggers, holdouts, cancellation, lift.

Campaigns come from ``tests/integration/campaigns.toml`` (sends as early as
allowed, no quiet hours), so the tests wait seconds, not hours.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from stream_app.cli.report import read_lift
from stream_app.clock import to_ms
from stream_app.decisions.attribution import Window
from stream_app.decisions.lift import Stratum, campaign_lift
from stream_app.devstack.processes import ManagedProcess
from stream_app.events.decision import Decision
from stream_app.settings import Settings
from stream_app.storage.commit import Committer, Writes
from stream_app.storage.decisions import DecisionStore, PendingDecision
from stream_app.storage.layout import Keys
from stream_app.storage.lift_fields import lift_cell, lift_value
from stream_app.storage.stats import StatsStore
from tests.integration.api_support import pending
from tests.integration.fixtures import (
    commit,
    consume_until,
    dumps,
    event,
    eventually,
    produce,
    profile_fields,
    scanned_strata,
)

pytestmark = pytest.mark.integration


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def item_update(item: str, at: datetime, **fields: Any) -> bytes:
    return dumps(
        {
            "type": "item_update",
            "event_id": uid("cat"),
            "event_time": at.isoformat(),
            "item_id": item,
            "category": "toys",
            "currency": "EUR",
            **fields,
        }
    )


async def consent(
    settings: Settings, redis: Redis, keys: Keys, *customers: str, opted_in: bool = True
) -> None:
    """Push consent (or its withdrawal) for ``customers``, returning once it is applied:
    Kafka orders records per partition only, so an event on another topic sent right
    after could otherwise be read first (and rightly suppressed)."""
    await produce(
        settings,
        settings.topics.identity,
        [
            (c.encode(), dumps(event("consent", c, uid("e"), channel="push", opted_in=opted_in)))
            for c in customers
        ],
    )
    flag = "1" if opted_in else "0"
    for customer in customers:
        await eventually(
            lambda c=customer: profile_fields(redis, keys, c),
            lambda fields: fields.get("consent:push") == flag,
            within=30,
        )


async def view(settings: Settings, customer: str, item: str) -> None:
    payload = event("product_view", customer, uid("e"), item_id=item, category="toys", price=50.0)
    await produce(settings, settings.topics.clickstream, [(customer.encode(), dumps(payload))])


async def viewed(settings: Settings, redis: Redis, keys: Keys, customer: str, item: str) -> None:
    """A view, returning once the item's viewers hold the customer: a catalog change on
    another topic sent right after could otherwise be read first and miss them."""
    await view(settings, customer, item)
    await eventually(
        lambda: redis.zscore(keys.viewers(item), customer),
        lambda score: score is not None,
        within=30,
    )


async def drop_price(settings: Settings, item: str, price: float) -> None:
    """The item at 100.00 and in stock, then at ``price`` a second later (seconds ago)."""
    start = datetime.now(UTC) - timedelta(seconds=5)
    await produce(
        settings,
        settings.topics.catalog,
        [
            (item.encode(), item_update(item, start, price=100.0, in_stock=True)),
            (item.encode(), item_update(item, start + timedelta(seconds=1), price=price)),
        ],
    )


async def decisions_on(
    settings: Settings, topic: str, customers: Sequence[str], within: float = 30
) -> list[Decision]:
    wanted = {c.encode() for c in customers}
    records = await consume_until(
        settings, topic, lambda seen: wanted <= {r.key for r in seen}, within=within
    )
    return [Decision.model_validate_json(r.value) for r in records if r.key in wanted and r.value]


async def test_a_price_drop_reaches_those_who_viewed_the_item_and_nobody_else(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    viewer, other, item = uid("pd"), uid("pdx"), uid("sku")
    await consent(settings, redis, keys, viewer, other)
    await viewed(settings, redis, keys, viewer, item)
    await viewed(settings, redis, keys, other, uid("sku"))
    await drop_price(settings, item, 79.0)
    [decision] = await decisions_on(settings, settings.topics.decisions, [viewer])
    assert decision.campaign_id == "price_drop"
    assert decision.trigger == "price_drop"
    assert [i.item_id for i in decision.content.items] == [item]
    assert "21% cheaper" in decision.explanation
    assert not decision.holdout
    assert "consent" in decision.policies
    records = await consume_until(settings, settings.topics.decisions, lambda _: False, within=1)
    assert all(r.key != other.encode() for r in records), "the other customer saw another item"


async def test_a_holdout_is_recorded_on_the_audit_topic_never_sent_and_its_conversion_counts(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    customer, item = uid("hold"), uid("sku")
    await consent(settings, redis, keys, customer)
    await viewed(settings, redis, keys, customer, item)
    start = datetime.now(UTC) - timedelta(seconds=5)
    await produce(
        settings,
        settings.topics.catalog,
        [
            (item.encode(), item_update(item, start, price=30.0, in_stock=False)),
            (item.encode(), item_update(item, start + timedelta(seconds=1), in_stock=True)),
        ],
    )
    [audit] = await decisions_on(settings, settings.topics.audit, [customer])
    assert audit.campaign_id == "back_in_stock"
    assert audit.holdout
    sent = await consume_until(settings, settings.topics.decisions, lambda _: False, within=1)
    assert all(r.key != customer.encode() for r in sent), "holdouts are never sent"

    order = event(
        "purchase",
        customer,
        uid("e"),
        order_id=uid("o"),
        items=[{"item_id": item, "category": "toys", "quantity": 1, "unit_price": 30.0}],
        total=30.0,
        currency="EUR",
    )
    await produce(settings, settings.topics.purchase, [(customer.encode(), dumps(order))])

    async def holdout_conversions() -> int:
        lifts = {lift.campaign_id: lift for lift in await read_lift(settings)}
        found = lifts.get("back_in_stock")
        return 0 if found is None else found.holdout.conversions

    assert await eventually(holdout_conversions, lambda n: n >= 1, within=30) >= 1


async def test_a_goal_reached_before_the_send_time_cancels_the_message(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    stats = StatsStore(redis, keys)
    before = await stats.read()
    customer = uid("geo")
    await consent(settings, redis, keys, customer)
    near = event("proximity", customer, uid("e"), store_id="store-7", distance_m=40.0)
    await produce(settings, settings.topics.sensor, [(customer.encode(), dumps(near))])
    planned = await eventually(
        stats.read,
        lambda s: (
            s.get("decisions_planned:store_nearby", 0)
            > before.get("decisions_planned:store_nearby", 0)
        ),
        within=20,
    )
    assert planned.get("decisions_planned:store_nearby", 0) > before.get(
        "decisions_planned:store_nearby", 0
    ), f"the store visit is planned 4 s after the trigger: {planned}"
    # The customer comes back by themselves before the message would go out.
    await view(settings, customer, uid("sku"))
    name = "decisions_cancelled:store_nearby:goal_reached"
    after = await eventually(stats.read, lambda s: s.get(name, 0) > before.get(name, 0), 20)
    assert after.get(name, 0) > before.get(name, 0)
    sent = await consume_until(settings, settings.topics.decisions, lambda _: False, within=1)
    assert all(r.key != customer.encode() for r in sent)


async def test_consent_withdrawn_after_planning_stops_the_scheduled_message(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    stats = StatsStore(redis, keys)
    name = "decisions_suppressed:store_nearby:no_consent"
    before = await stats.read()
    customer = uid("optout")
    await consent(settings, redis, keys, customer)
    near = event("proximity", customer, uid("e"), store_id="store-9", distance_m=15.0)
    await produce(settings, settings.topics.sensor, [(customer.encode(), dumps(near))])
    await eventually(
        stats.read,
        lambda s: (
            s.get("decisions_planned:store_nearby", 0)
            > before.get("decisions_planned:store_nearby", 0)
        ),
        within=20,
    )
    await consent(
        settings, redis, keys, customer, opted_in=False
    )  # before the send, 4 s after the trigger
    after = await eventually(stats.read, lambda s: s.get(name, 0) > before.get(name, 0), 20)
    assert after.get(name, 0) > before.get(name, 0), "checked again at send time"
    sent = await consume_until(settings, settings.topics.decisions, lambda _: False, within=1)
    assert all(r.key != customer.encode() for r in sent)


def spread(campaigns: Sequence[str], n: int, seed: int) -> list[PendingDecision]:
    """``n`` sent or held-out decisions spread over ``campaigns``, arms and tiers."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    out = []
    for _ in range(n):
        item = pending(uid("c"), rng.choice(campaigns), now, now)
        decision = item.decision.model_copy(update={"holdout": rng.random() < 0.3})
        out.append(replace(item, decision=decision, stratum=rng.choice(["new", "vip", "a|b"])))
    return out


def window(item: PendingDecision) -> tuple[str, Window]:
    """The conversion window ``finish`` opened for ``item`` (customer, window)."""
    d = item.decision
    arm = "holdout" if d.holdout else "treated"
    at = to_ms(d.send_at)
    return d.customer_id, Window(d.decision_id, d.campaign_id, arm, item.stratum, "p", at, at)


async def counted(store: DecisionStore, campaigns: Sequence[str]) -> dict[str, list[Stratum]]:
    strata = await store.lift_strata()
    return {c: strata[c] for c in campaigns}


async def scanned(redis: Redis, keys: Keys, campaigns: Sequence[str]) -> dict[str, list[Stratum]]:
    return {c: await scanned_strata(redis, keys, c) for c in campaigns}


async def test_lift_counts_equal_a_scan_of_the_decisions_and_redelivery_counts_nothing(
    redis: Redis, keys: Keys
) -> None:
    store, campaigns = DecisionStore(redis, keys), [uid("lift"), uid("lift")]
    decisions = spread(campaigns, 300, seed=18)
    sent_ttl, now = timedelta(days=1), datetime.now(UTC)
    batches = [decisions[i : i + 50] for i in range(0, len(decisions), 50)]
    conversions = [window(item) for item in decisions[::3]]
    for batch in batches:
        await commit(redis, lambda w, b=batch: store.finish(w, b, [], now, sent_ttl))
    await commit(redis, lambda w: store.convert(w, conversions[:60]))
    first = await counted(store, campaigns)
    assert first == await scanned(redis, keys, campaigns)
    assert sum(s.treated.n + s.holdout.n for c in campaigns for s in first[c]) == 300
    # every batch again (a redelivery), the conversions again and the rest of them, some
    # of them by two racing commits: each decision and each conversion counts once
    for batch in batches:
        await commit(redis, lambda w, b=batch: store.finish(w, b, [], now, sent_ttl))
    await asyncio.gather(
        *(commit(redis, lambda w: store.convert(w, conversions)) for _ in range(2))
    )
    again = await counted(store, campaigns)
    assert again == await scanned(redis, keys, campaigns)
    converted = sum(
        s.treated.conversions + s.holdout.conversions for c in campaigns for s in again[c]
    )
    assert converted == len(conversions) == 100
    lifts = {lift.campaign_id: lift for lift in await store.lifts()}
    assert [lifts[c] for c in campaigns] == [campaign_lift(c, again[c]) for c in campaigns]


async def test_lift_counts_are_rebuilt_from_decisions_recorded_before_them(
    settings: Settings, redis: Redis, keys: Keys
) -> None:
    store, campaign = DecisionStore(redis, keys), uid("lift")
    older = spread([campaign], 40, seed=6)
    for i, item in enumerate(older):  # as the previous version recorded them: no counts
        arm = "holdout" if item.decision.holdout else "treated"
        value = lift_value(arm, item.stratum, converted=i % 4 == 0)
        await redis.hset(keys.lift(campaign), item.decision.decision_id, value)
    await redis.sadd(keys.campaigns(), campaign)
    newer = spread([campaign], 10, seed=7)  # counted by this version, before the first read
    await commit(redis, lambda w: store.finish(w, newer, [], datetime.now(UTC), timedelta(days=1)))
    await commit(redis, lambda w: store.convert(w, [window(older[1]), window(newer[0])]))
    rebuilt = await counted(store, [campaign])
    assert rebuilt == await scanned(redis, keys, [campaign])
    assert sum(s.treated.n + s.holdout.n for s in rebuilt[campaign]) == 50
    assert sum(s.treated.conversions + s.holdout.conversions for s in rebuilt[campaign]) == 12

    # once built, reads only read; a forced rebuild recounts everything
    writes = Writes()
    writes.add("HINCRBY", keys.lift_cells(campaign), lift_cell("n", "treated", "new"), 1000)
    await Committer(redis).commit(writes)
    assert await counted(store, [campaign]) != rebuilt
    [again] = [x for x in await read_lift(settings, rebuild=True) if x.campaign_id == campaign]
    assert again == campaign_lift(campaign, rebuilt[campaign])  # stream-app report lift --rebuild
