"""Service recovery on the real stack: a negative comment reaches customer care at once,
marketing right after is suppressed (``service_recovery``), a redelivery changes nothing."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from stream_app.devstack.processes import ManagedProcess
from stream_app.settings import Settings
from stream_app.storage.layout import Keys
from stream_app.storage.stats import StatsStore
from tests.integration.fixtures import (
    decisions_until,
    dumps,
    event,
    eventually,
    produce,
    stored_states,
)
from tests.integration.test_decisions import consent, uid

pytestmark = pytest.mark.integration

TEXT = "Third late delivery, terrible service, never again"
SUPPRESSED = "decisions_suppressed:store_nearby:service_recovery"


async def test_a_complaint_reaches_care_and_holds_marketing_back_once(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    stats = StatsStore(redis, keys)
    before = await stats.read()
    customer = uid("care")
    await consent(settings, redis, keys, customer)
    said = dumps(
        event("comment", customer, uid("e"), text=TEXT, source="support_chat", order_id="o-9")
    )
    await produce(settings, settings.topics.review, [(customer.encode(), said)])

    decisions = await decisions_until(settings, customer, "service_recovery", within=30)
    [care] = [d for d in decisions if d.customer_id == customer]
    assert care.trigger == "negative_remark"
    assert not care.holdout
    assert "support_chat about order:o-9" in care.explanation
    assert "late" not in care.explanation, "the text is never repeated"

    # Marketing right after: the store nearby would message them, but not now.
    near = event("proximity", customer, uid("e"), store_id="store-3", distance_m=20.0)
    await produce(settings, settings.topics.sensor, [(customer.encode(), dumps(near))])
    after = await eventually(
        stats.read, lambda s: s.get(SUPPRESSED, 0) > before.get(SUPPRESSED, 0), 30
    )
    assert after.get(SUPPRESSED, 0) == before.get(SUPPRESSED, 0) + 1

    # The comment redelivered: a duplicate, nothing changes, no second message.
    [state] = await stored_states(redis, keys, [customer])
    duplicates = after.get("events_duplicate", 0)
    await produce(settings, settings.topics.review, [(customer.encode(), said)])
    await eventually(stats.read, lambda s: s.get("events_duplicate", 0) > duplicates, 30)
    [again] = await stored_states(redis, keys, [customer])
    assert again.fields["n:comment"] == 1
    assert again.complaints == state.complaints
    assert again.sentiment == state.sentiment
    final = await stats.read()
    cares = "decisions_emitted:service_recovery"
    assert final.get(cares, 0) == before.get(cares, 0) + 1, "one message for one complaint"
