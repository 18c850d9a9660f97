"""``stream-app audit`` end to end: events through the real worker, profiles corrupted
in Redis in distinct ways, and the audit (recomputing from the retained topics) finds
each one and nothing on the clean profiles (docs/audit.md)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from stream_app.cli.audit import render
from stream_app.cli.audit_run import run_audit
from stream_app.devstack.processes import ManagedProcess
from stream_app.logs import customer_ref
from stream_app.profiles.recompute import count_fields
from stream_app.settings import Settings
from stream_app.storage.erasure import ErasureStore
from stream_app.storage.layout import Check, Keys, check_member
from tests.integration.fixtures import dumps, event_counts, eventually, produce

pytestmark = pytest.mark.integration

Doc = dict[str, Any]


def _events(cid: str, now: datetime, zone: str | None) -> dict[str, list[dict[str, Any]]]:
    def ev(type_: str, minutes: int, **fields: Any) -> dict[str, Any]:
        at = (now - timedelta(minutes=minutes)).isoformat()
        return {"type": type_, "event_id": f"e-{uuid.uuid4().hex[:12]}", "customer_id": cid,
                "event_time": at, **fields}  # fmt: skip

    item = {"category": "shoes", "price": 40.0, "brand": "Kivo"}
    order = f"o-{uuid.uuid4().hex[:8]}"
    line = {"item_id": "sku-1", "category": "shoes", "quantity": 2, "unit_price": 40.0}
    identity = [ev("traits", 60, timezone=zone)] if zone else []
    return {
        "clickstream": [
            ev("product_view", 50, item_id="sku-1", **item),
            ev("search", 45, query="red shoes"),
            ev("add_to_cart", 40, item_id="sku-1", **item),
            ev("add_to_cart", 30, item_id="sku-2", **item),
            ev("page_view", 20, path="/"),
        ],
        "purchase": [
            ev("purchase", 35, order_id=order, total=80.0, currency="EUR", items=[line]),
            ev(
                "return",
                10,
                order_id=order,
                return_id=f"r-{order}",
                amount=40.0,
                currency="EUR",
                items=[{**line, "quantity": 1}],
            ),
        ],
        "identity": identity,
    }


def _count(doc: Doc) -> None:
    doc["f"]["n:product_view"] += 1


def _sum(doc: Doc) -> None:
    doc["f"]["spend:EUR"] += 100


def _rhythm(doc: Doc) -> None:
    hours = doc["r"][1]
    hour = next(iter(hours))
    hours[hour] += 2.0


def _cart(doc: Doc) -> None:
    doc["c"]["sku-2"][3] = 9


def _deleted(doc: Doc) -> None:
    del doc["f"]["last:search"]


#: Corruptions of the document, and the field kind the audit must name.
DOCUMENT: dict[str, tuple[Callable[[Doc], None], str]] = {
    "count": (_count, "n:*"),
    "sum": (_sum, "spend:*"),
    "rhythm": (_rhythm, "rhythm"),
    "cart": (_cart, "cart"),
    "deleted": (_deleted, "last:*"),
}


async def test_the_audit_finds_each_corruption_and_nothing_on_clean_profiles(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    names = [*DOCUMENT, "membership", "erased", "clean-1", "clean-2", "clean-3"]
    customers = {name: f"aud-{run}-{name}" for name in names}
    zones = ["Europe/Berlin", None, "Asia/Kolkata"]
    by_topic: dict[str, list[tuple[bytes, bytes]]] = {}
    expected_n: dict[str, int] = {}
    for i, cid in enumerate(customers.values()):
        for stream, events in _events(cid, now, zones[i % 3]).items():
            by_topic.setdefault(stream, []).extend((cid.encode(), dumps(e)) for e in events)
            expected_n[cid] = expected_n.get(cid, 0) + len(events)
    topics = settings.topics
    for stream, records in by_topic.items():
        if records:
            await produce(settings, getattr(topics, stream), records)

    ids = list(customers.values())
    counts = await eventually(
        lambda: event_counts(redis, keys, ids),
        lambda found: all(found[c].get("n") == expected_n[c] for c in ids),
    )
    assert all(counts[c].get("n") == expected_n[c] for c in ids), counts

    secret = settings.secrets.pseudonym_secret.get_secret_value().encode()
    refs = {name: customer_ref(cid, secret) for name, cid in customers.items()}

    def mine(report: Any) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for m in report.mismatches:
            for name, ref in refs.items():
                if m.customer == ref:
                    found.setdefault(name, set()).add(m.field)
        return found

    clean = await run_audit(settings, rate=1.0, now=datetime.now(UTC))
    assert mine(clean) == {}
    assert clean.compared >= len(names)

    for name, (corrupt, _) in DOCUMENT.items():
        key = keys.profile(customers[name])
        doc = orjson.loads(await redis.get(key) or b"")
        corrupt(doc)
        await redis.set(key, orjson.dumps(doc), keepttl=True)
    await redis.set(keys.memberships(customers["membership"]), "ghost", keepttl=True)
    erased = customers["erased"]
    await ErasureStore(redis, keys).erase(erased, datetime.now(UTC))
    # A check left in the schedule of an erased customer (as a racing write could leave).
    await redis.zadd(keys.due(keys.shard(erased)), {check_member(Check("seg", erased)): 1})

    report = await run_audit(settings, rate=1.0, now=datetime.now(UTC))
    found = mine(report)
    assert set(found) == {*DOCUMENT, "membership", "erased"}, found
    for name, (_, kind) in DOCUMENT.items():
        kinds = count_fields(m for m in report.mismatches if m.customer == refs[name])
        assert kind in kinds, (name, found[name])
    assert found["membership"] == {"segments"}
    assert found["erased"] == {"erased_schedule"}
    text = render(report, 100)
    assert refs["cart"] in text
    assert customers["cart"] not in text
    stats = await redis.hgetall(keys.stats())
    assert int(stats[b"audit_last_mismatches"]) >= len(found)
