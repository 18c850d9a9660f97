"""Returns end to end through the real worker: a line returned days after its order, a
whole order returned before the order itself arrives (days older than the customer's
newest event: never late), a credit note redelivered under a new event id (a duplicate),
a refund; the stored profile is the oracle's, exact in minor units, and the view nets it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from stream_app.clock import to_ms
from stream_app.devstack.processes import ManagedProcess
from stream_app.events.registry import EVENT_ADAPTERS, Stream
from stream_app.profiles.derive import derive
from stream_app.settings import Settings
from stream_app.storage.layout import Keys, event_key
from tests.integration.fixtures import event, eventually, produce, profile_fields, stored_states
from tests.oracle.compare import diff_fields
from tests.oracle.config import OracleConfig
from tests.oracle.recompute import Oracle

pytestmark = pytest.mark.integration


def ev(type_: str, customer: str, at: datetime, **fields: object) -> dict[str, Any]:
    return event(type_, customer, f"e-{uuid.uuid4().hex[:12]}", event_time=at.isoformat(), **fields)


def line(item: str, quantity: int, price: float) -> dict[str, object]:
    return {"item_id": item, "category": "shoes", "quantity": quantity, "unit_price": price}


async def _stats(redis: Redis, keys: Keys) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in (await redis.hgetall(keys.stats())).items()}


async def test_returns_before_and_after_their_orders_redelivered_partial_and_whole(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    cid = f"ret-{uuid.uuid4().hex[:8]}"
    key = cid.encode()
    now = datetime.now(UTC).replace(microsecond=0)
    o1, o2 = f"o1-{cid}", f"o2-{cid}"
    first = ev(
        "purchase", cid, now - 4 * timedelta(days=1), order_id=o1, total=50.3,
        currency="EUR", items=[line("a", 2, 10.0), line("b", 1, 30.3)],
    )  # fmt: skip
    second = ev(
        "purchase", cid, now - 3 * timedelta(days=1), order_id=o2, total=1500,
        currency="JPY", items=[line("c", 3, 500)],
    )  # fmt: skip
    partial = ev(
        "return", cid, now - timedelta(hours=1), return_id=f"cn1-{cid}", order_id=o1,
        amount=10.0, currency="EUR", items=[line("a", 1, 10.0)], reason="too_small",
    )  # fmt: skip
    partial_again = {**partial, "event_id": f"e-{uuid.uuid4().hex[:12]}"}
    whole = ev(
        "return", cid, now - timedelta(hours=2), return_id=f"cn2-{cid}", order_id=o2,
        amount=1500, currency="JPY",
    )  # fmt: skip
    refund = ev("refund", cid, now, return_id=f"rf-{cid}", order_id=o1, amount=0.3, currency="EUR")
    # The whole return before its order; the order then 3 days older than the newest event.
    log = [first, partial, whole, refund, second, partial_again]
    before = await _stats(redis, keys)
    for record in log:
        await produce(settings, settings.topics.purchase, [(key, orjson.dumps(record))])
    fields = await eventually(
        lambda: profile_fields(redis, keys, cid),
        lambda f: f.get("n:purchase") == "2" and f.get("n:refund") == "1",
    )
    after = await eventually(
        lambda: _stats(redis, keys),
        lambda s: s.get("events_duplicate", 0) > before.get("events_duplicate", 0),
    )
    assert after.get("events_duplicate", 0) - before.get("events_duplicate", 0) == 1
    assert after.get("events_late:purchase", 0) == before.get("events_late:purchase", 0)
    assert await redis.sismember(keys.orders(cid), event_key(f"return/cn1-{cid}"))

    oracle = Oracle(OracleConfig.from_settings(settings))
    adapter = EVENT_ADAPTERS[Stream.PURCHASE]
    for record in log:
        oracle.apply(adapter.validate_python(record))
    expected = oracle.profiles(to_ms(now))[cid].fields
    stored = {k: v for k, v in fields.items() if k != "created_ms" and not k.startswith("@")}
    assert diff_fields(cid, expected, stored, {}) == []
    assert (fields["spend:EUR"], fields["returned:EUR"], fields["spend:JPY"]) == (
        "5030", "1030", "1500",
    )  # fmt: skip
    assert (fields["returned_orders"], fields["returned_units"]) == ("1", str(1 + 3))

    [state] = await stored_states(redis, keys, [cid])
    value = derive(state, now, settings.profiles.value_rules()).as_dict()["value"]
    assert (value["orders"], value["orders_gross"], value["orders_returned"]) == (1, 2, 1)
    assert value["spend"]["EUR"] == {"gross": "50.30", "returned": "10.30", "net": "40.00"}
    assert value["spend"]["JPY"] == {"gross": "1500", "returned": "1500", "net": "0"}
    assert value["monetary"] == {"amount": "40.00", "currency": settings.profiles.base_currency}
