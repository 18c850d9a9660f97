"""``stream-app migrate event-keys``: a deployment upgraded from hex event ids.

The worker applies events; their ids are then put back in the form the code before
4cb0e4f stored (16 hex digits in ``seen`` and ``orders``, and in the basket run markers'
names). The migration converts them (twice: the second run changes nothing), and the
same events redelivered through the worker are recognised as duplicates: the profiles
do not move. Ids of 16 digits (a hex id without letters, a decimal of 16 digits) are
among them, alone in their index, where only the run decides.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from stream_app.devstack.workers import worker_process
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.storage.layout import Keys, event_key, parse_basket_run
from stream_app.storage.migrate import EventKeyMigration, Tally, legacy_event_key
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import (
    dumps,
    event,
    event_counts,
    eventually,
    isolated,
    produce,
    stored_states,
)
from tests.oracle.redis_view import stats

pytestmark = pytest.mark.integration


def old_form(key: str) -> str:
    """An ``event_key`` as the code before 4cb0e4f stored it: 16 hex digits."""
    return (int(key) % 2**64).to_bytes(8, "big").hex()


def first_id(prefix: str, wanted: Callable[[str], bool]) -> str:
    """The first ``<prefix>-<n>`` whose ``event_key`` satisfies ``wanted``."""
    n = 0
    while not wanted(event_key(f"{prefix}-{n}")):
        n += 1
    return f"{prefix}-{n}"


def handled(counters: dict[str, int]) -> int:
    """Events the worker is done with: applied, duplicates, dead letters."""
    done = ("events_applied", "events_duplicate", "dead_letters:")
    return sum(n for name, n in counters.items() if name.startswith(done))


def purchase(customer: str, event_id: str) -> dict[str, Any]:
    line = {"item_id": "sku-a", "category": "shoes", "quantity": 1, "unit_price": 20.0}
    other = {"item_id": "sku-b", "category": "socks", "quantity": 2, "unit_price": 5.0}
    return event(
        "purchase", customer, event_id, order_id=f"o-{event_id}", total=30.0, currency="EUR",
        items=[line, other],
    )  # fmt: skip


async def migrate(redis: Redis, keys: Keys, dry_run: bool = False) -> dict[str, Tally]:
    return await EventKeyMigration(redis, keys, dry_run=dry_run, batch=2).run()


async def snapshot(redis: Redis, keys: Keys, customers: list[str]) -> dict[str, Any]:
    """The customers' id indexes (with scores) and the deployment's basket run markers."""
    markers = sorted([k.decode() async for k in redis.scan_iter(match=keys.basket_runs())])
    return {
        "seen": [await redis.zrange(keys.seen(c), 0, -1, withscores=True) for c in customers],
        "orders": [sorted(await redis.smembers(keys.orders(c))) for c in customers],
        "markers": markers,
    }


async def to_old_form(redis: Redis, keys: Keys, customers: list[str]) -> None:
    """Rewrite the stored ids as the old code wrote them (expiries kept)."""
    for cid in customers:
        seen = await redis.zrange(keys.seen(cid), 0, -1, withscores=True)
        orders = await redis.smembers(keys.orders(cid))
        pipe = redis.pipeline(transaction=True)
        if seen:  # added before the removal: the key (and its expiry) stays
            pipe.zadd(keys.seen(cid), {old_form(m.decode()): s for m, s in seen})
            pipe.zrem(keys.seen(cid), *(m for m, _ in seen))
        if orders:
            pipe.sadd(keys.orders(cid), *(old_form(m.decode()) for m in orders))
            pipe.srem(keys.orders(cid), *orders)
        await pipe.execute()
    # Names first: a SCAN running while keys are renamed may return a renamed one again.
    markers = [name async for name in redis.scan_iter(match=keys.basket_runs())]
    for name in markers:
        parsed = parse_basket_run(name.decode())
        assert parsed is not None
        await redis.rename(name, keys.basket_run(old_form(parsed[0]), parsed[1]))


async def test_hex_ids_converted_then_redelivered_events_are_duplicates(
    settings: Settings, tmp_path: Path
) -> None:
    own, run = isolated(settings, "mig", tmp_path / "faust")
    keys = Keys(own.redis.key_prefix)
    customers = [f"mig-{run}-{n}" for n in range(3)]
    digits_hex = first_id(f"dh-{run}", lambda k: old_form(k).isdigit())
    digits_dec = first_id(f"dd-{run}", lambda k: len(k) == 16 and k.isdigit())
    # A hex id without letters, alone in its index; its decimal is not of 16 digits.
    alone = first_id(f"ph-{run}", lambda k: old_form(k).isdigit() and len(k) != 16)
    events = [
        event(
            "product_view",
            customers[0],
            f"v-{run}-1",
            item_id="sku-a",
            category="shoes",
            price=20.0,
        ),
        event(
            "product_view", customers[0], digits_hex, item_id="sku-b", category="socks", price=5.0
        ),
        purchase(customers[0], f"p-{run}-0"),
        purchase(customers[1], digits_dec),  # alone in its orders: 16 digits once converted
        purchase(customers[2], alone),
        event(
            "product_view", customers[2], f"v-{run}-2", item_id="sku-c", category="bags", price=9.0
        ),
    ]
    records = [(e["customer_id"].encode(), dumps(e)) for e in events]
    topics = own.topics
    await ensure_topics(own)
    redis = Redis.from_url(own.redis.url)
    process = worker_process(own, ARTIFACTS / "logs", name=f"worker-{run}")
    with process:
        for record, e in zip(records, events, strict=True):
            topic = topics.purchase if e["type"] == "purchase" else topics.clickstream
            await produce(own, topic, [record])
        applied = await eventually(
            lambda: stats(redis, own.redis.key_prefix),
            lambda s: handled(s) >= len(events),
            within=120,
        )
        assert applied.get("events_applied") == len(events), applied
        counts = await event_counts(redis, keys, customers)
        profiles = [s.fields for s in await stored_states(redis, keys, customers)]
        stored = await snapshot(redis, keys, customers)
        assert len(stored["markers"]) == 3, "one basket run per order"

        await to_old_form(redis, keys, customers)
        old = await snapshot(redis, keys, customers)
        dry = await migrate(redis, keys, dry_run=True)
        assert await snapshot(redis, keys, customers) == old, "a dry run changes nothing"
        assert (dry["seen"].ids, dry["orders"].ids, dry["basket runs"].ids) == (3, 3, 3)

        done = await migrate(redis, keys)
        assert (done["seen"].ids, done["orders"].ids, done["basket runs"].ids) == (3, 3, 3)
        assert await snapshot(redis, keys, customers) == stored
        assert await redis.pttl(keys.seen(customers[0])) > 0
        for cid in customers:
            assert await redis.object("encoding", keys.orders(cid)) == b"intset"
            assert await redis.pttl(keys.orders(cid)) > 0
        for marker in stored["markers"]:
            assert await redis.pttl(marker) > 0

        again = await migrate(redis, keys)
        assert [t.ids for t in again.values()] == [0, 0, 0, 0], again
        assert again["orders"].undecided == 1, "the 16-digit decimal is left alone"
        assert await snapshot(redis, keys, customers) == stored

        for record, e in zip(records, events, strict=True):
            topic = topics.purchase if e["type"] == "purchase" else topics.clickstream
            await produce(own, topic, [record])
        after = await eventually(
            lambda: stats(redis, own.redis.key_prefix),
            lambda s: handled(s) >= 2 * len(events),
            within=120,
        )
        assert (after.get("events_duplicate"), after.get("events_applied")) == (
            len(events),
            len(events),
        ), after
        assert await event_counts(redis, keys, customers) == counts
        assert [s.fields for s in await stored_states(redis, keys, customers)] == profiles
    await redis.aclose()


async def test_the_script_converts_every_form_and_keeps_values_and_expiries(
    redis: Redis,
) -> None:
    keys = Keys(f"mig{uuid.uuid4().hex[:8]}")
    rng = random.Random(18)
    edges = ["0000000000000000", "ffffffffffffffff", "8000000000000000", "7fffffffffffffff"]
    hexes = [*edges, "00000000000186a0", *(f"{rng.getrandbits(64):016x}" for _ in range(300))]
    await redis.sadd(keys.orders("c-1"), *hexes)
    await redis.pexpire(keys.orders("c-1"), 600_000)
    parked = {hashlib.blake2b(b"r-1", digest_size=8).hexdigest(): b"{}", "1234567890abcdef": b"x"}
    await redis.hset(keys.parked("device:ab"), mapping=parked)
    await redis.pexpire(keys.parked("device:ab"), 600_000)
    decimals = {"1234567890123456": 1.0, "-42": 2.0}  # new ids: one of 16 digits
    await redis.zadd(keys.seen("c-2"), decimals)

    done = await migrate(redis, keys)
    assert (done["orders"].ids, done["parked"].ids, done["seen"].ids) == (len(hexes), 2, 0)
    assert await redis.smembers(keys.orders("c-1")) == {legacy_event_key(h).encode() for h in hexes}
    assert await redis.object("encoding", keys.orders("c-1")) == b"intset"
    assert 0 < await redis.pttl(keys.orders("c-1")) <= 600_000
    assert await redis.hgetall(keys.parked("device:ab")) == {
        legacy_event_key(h).encode(): v for h, v in parked.items()
    }
    assert await redis.hget(keys.parked("device:ab"), event_key("r-1")) == b"{}"
    assert await redis.pttl(keys.parked("device:ab")) > 0
    assert await redis.zrange(keys.seen("c-2"), 0, -1, withscores=True) == [
        (b"1234567890123456", 1.0),
        (b"-42", 2.0),
    ]
    assert [t.ids for t in (await migrate(redis, keys)).values()] == [0, 0, 0, 0]
