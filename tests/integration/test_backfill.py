"""Backfill through the real worker: a year of customers' history (views, carts, orders,
returns, a referral, and a consent on another topic, a year older than the clicks read
before it), replayed with ``--backfill`` onto the topics before the worker starts, is
applied whatever its age and order and messages nobody: no decision, no audit record,
no segment event, no timer, no dead letter, no late event. Every profile is the
oracle's, and so is the funnel (``tests.oracle.funnel``). Loaded again, every event is a
duplicate.
A live cart left afterwards still gets its message: the worker under test does
decide, history just does not make it."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from stream_app.clock import to_ms
from stream_app.devstack.ports import free_port
from stream_app.devstack.workers import worker_process
from stream_app.events.eventlog import stream_for_type
from stream_app.events.registry import EVENT_ADAPTERS, Event
from stream_app.kafka_topics import ensure_topics
from stream_app.producers.replay import replay_file
from stream_app.settings import Settings
from stream_app.storage.funnel import FunnelStore
from stream_app.storage.layout import Keys
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import (
    dumps,
    event,
    eventually,
    isolated,
    produce,
    read_to_end,
)
from tests.oracle.compare import diff
from tests.oracle.config import OracleConfig
from tests.oracle.funnel import Definitions, expected_counts
from tests.oracle.recompute import ExpectedProfile, Oracle
from tests.oracle.redis_view import read_profile, stats

pytestmark = pytest.mark.integration

CATEGORIES = ("shoes", "bags", "coats", "socks")


def _ev(type_: str, cid: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return event(type_, cid, f"e-{uuid.uuid4().hex[:16]}", event_time=at.isoformat(), **fields)


def _line(item: str, category: str, quantity: int, price: float) -> dict[str, Any]:
    return {"item_id": item, "category": category, "quantity": quantity, "unit_price": price}


def year_of(cid: str, end: datetime, rng: random.Random) -> list[dict[str, Any]]:
    """A year of one customer up to ``end``: push consent, weekly visits that view and fill a cart,
    an order of that cart about every month, some lines returned days later, and a
    cart left at the end (live, it would be abandoned; the last order lapses)."""
    start = end - timedelta(days=365)
    out = [_ev("consent", cid, start, channel="push", opted_in=True)]  # on events.identity
    out.append(_ev("page_view", cid, start + timedelta(days=1), path="/",
                   referrer="https://www.google.com/"))  # fmt: skip
    out.append(_ev("referral", cid, start + timedelta(days=40), kind="invite", channel="email"))
    for week in range(52):
        at = start + timedelta(days=7 * week, hours=rng.randrange(8, 20))
        items = [(f"sku-{rng.randrange(40)}", rng.choice(CATEGORIES)) for _ in range(3)]
        for n, (item, category) in enumerate(items):
            out.append(_ev("product_view", cid, at + timedelta(minutes=n), item_id=item,
                           category=category, price=10.0 + n))  # fmt: skip
        item, category = items[0]
        out.append(_ev("add_to_cart", cid, at + timedelta(minutes=5), item_id=item,
                       category=category, price=10.0, quantity=2))  # fmt: skip
        if week % 4 == 3 and week < 48:
            order = f"o-{cid}-{week}"
            lines = [_line(item, category, 2, 10.0), _line("sku-x", "bags", 1, 20.0)]
            out.append(_ev("purchase", cid, at + timedelta(minutes=9), order_id=order,
                           total=40.0, currency="EUR", items=lines))  # fmt: skip
            if week % 8 == 7:
                back = [_line(item, category, 1, 10.0)]
                out.append(_ev("return", cid, at + timedelta(days=3), return_id=f"r-{order}",
                               order_id=order, amount=10.0, currency="EUR", items=back,
                               reason="too_small"))  # fmt: skip
    return sorted(out, key=lambda e: e["event_time"])


@pytest.fixture(scope="module")
def own(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    mine, _ = isolated(settings, "bf", tmp_path_factory.mktemp("faust-backfill"))
    return mine.updated(metrics={"port": free_port()})


async def _differences(
    own: Settings, redis: Redis, expected: dict[str, ExpectedProfile], at_ms: int
) -> list[str]:
    """Each customer's stored profile against the oracle's, read at ``at_ms``."""
    profiles, out = own.profiles, []
    for cid, want in expected.items():
        found = await read_profile(
            redis, own.redis.key_prefix, cid, at_ms=at_ms,
            taste_half_life_ms=int(profiles.taste_half_life.total_seconds() * 1000),
            rhythm_half_life_ms=int(profiles.rhythm_half_life.total_seconds() * 1000),
        )  # fmt: skip
        out += diff(want, found)
    return out


async def _funnel(own: Settings, redis: Redis) -> dict[str, int]:
    """The funnel counters the worker kept (``storage.funnel``)."""
    return await FunnelStore(redis, Keys(own.redis.key_prefix), own.funnel.period).read()


def _recounted(own: Settings, values: list[dict[str, Any]]) -> dict[str, int]:
    """The funnel recounted from the events (``tests.oracle.funnel``)."""
    events = [(str(e.customer_id), e) for e in _parsed(values)]
    return expected_counts(events, Definitions.from_settings(own))


def _parsed(values: list[dict[str, Any]]) -> list[Event]:
    return [EVENT_ADAPTERS[stream_for_type[v["type"]]].validate_json(dumps(v)) for v in values]


async def test_a_year_of_history_is_applied_in_event_time_and_messages_nobody(
    own: Settings, redis: Redis, tmp_path: Path
) -> None:
    keys = Keys(own.redis.key_prefix)  # the session's Redis, keys of this test's own
    rng = random.Random(1616)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    customers = [f"bf-{n}-{uuid.uuid4().hex[:6]}" for n in range(4)]
    history = sorted(
        (e for cid in customers for e in year_of(cid, end, rng)), key=lambda e: e["event_time"]
    )
    log = tmp_path / "history.jsonl"
    log.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in history))
    await ensure_topics(own)
    sent = await replay_file(own, log, backfill=True, envelope_size=5)
    assert (sent.events_sent, sent.invalid) == (len(history), 0)

    process = worker_process(own, ARTIFACTS / "logs", name="backfill")
    with process:
        counted = await eventually(
            lambda: stats(redis, own.redis.key_prefix),
            lambda s: s.get("events_backfilled", 0) >= len(history),
            within=120.0,
        )
        assert counted["events_backfilled"] == len(history), counted
        assert counted.get("events_applied", 0) == len(history), sorted(counted.items())
        assert not [k for k in counted if k.split(":")[0] in _NEVER], counted
        assert await redis.zcard(keys.due()) == 0, "history armed no timer"
        quiet = await read_to_end(
            own, [own.topics.decisions, own.topics.audit, own.topics.segments,
                  own.topics.deadletter, own.topics.late],
        )  # fmt: skip
        assert [(r.topic, r.value) for r in quiet] == []

        oracle = Oracle(OracleConfig.from_settings(own))
        for parsed in _parsed(history):
            oracle.apply(parsed)
        at_ms = to_ms(datetime.now(UTC))
        expected = oracle.profiles(at_ms)
        assert set(expected) == set(customers)
        assert await _differences(own, redis, expected, at_ms) == []
        assert await _funnel(own, redis) == _recounted(own, history)

        # Loaded twice (a re-run): nothing applied again. A customer known only from
        # history keeps every id (``IDS_FLOOR``): each event is a duplicate, none late.
        await replay_file(own, log, backfill=True, envelope_size=5)
        again = await eventually(
            lambda: stats(redis, own.redis.key_prefix),
            lambda s: s.get("events_backfilled", 0) >= 2 * len(history),
            within=120.0,
        )
        assert again.get("events_applied", 0) == len(history), sorted(again.items())
        assert again.get("events_duplicate", 0) == len(history), sorted(again.items())
        assert await _differences(own, redis, expected, at_ms) == []
        assert await _funnel(own, redis) == _recounted(own, history)

        # The same worker messages a live cart left now: history alone was quiet.
        live = f"live-{uuid.uuid4().hex[:6]}"
        now = datetime.now(UTC)
        agreed = _ev("consent", live, now, channel="push", opted_in=True)
        cart = _ev("add_to_cart", live, now, item_id="sku-1", category="shoes", price=10.0)
        await produce(own, own.topics.identity, [(live.encode(), orjson.dumps(agreed))])
        await produce(own, own.topics.clickstream, [(live.encode(), orjson.dumps(cart))])
        decided = await eventually(
            lambda: read_to_end(own, [own.topics.decisions]), lambda found: len(found) > 0
        )
        assert {orjson.loads(r.value)["customer_id"] for r in decided} == {live}

        # A live event of a backfilled customer trims their index to the allowed
        # lateness: loaded a third time, their history is late (orders and returns stay
        # duplicates at any age); the others' is still all duplicates.
        first = customers[0]
        seen = _ev("product_view", first, datetime.now(UTC), item_id="sku-2",
                   category="shoes", price=12.0)  # fmt: skip
        await produce(own, own.topics.clickstream, [(first.encode(), orjson.dumps(seen))])
        await eventually(
            lambda: stats(redis, own.redis.key_prefix),
            lambda s: s.get("events_applied", 0) >= len(history) + 3,  # consent, cart, view
        )
        # ... and rebuilds it: shrunk from a year of ids, it is compact again (Redis never
        # gives a sorted set its compact encoding back by itself).
        encoding = await redis.object("encoding", Keys(own.redis.key_prefix).seen(first))
        assert encoding in ("ziplist", "listpack", b"ziplist", b"listpack"), encoding
        await replay_file(own, log, backfill=True, envelope_size=5)
        third = await eventually(
            lambda: stats(redis, own.redis.key_prefix),
            lambda s: s.get("events_backfilled", 0) >= 3 * len(history),
            within=120.0,
        )
        theirs = [e for e in history if e["customer_id"] == first]
        trimmed = [e for e in theirs if e["type"] not in ("purchase", "return")]
        late = sum(n for name, n in third.items() if name.startswith("events_late:"))
        assert late == len(trimmed), sorted(third.items())
        assert await _funnel(own, redis) == _recounted(own, [*history, agreed, cart, seen])
        duplicates = third.get("events_duplicate", 0) - again.get("events_duplicate", 0)
        assert duplicates == len(history) - len(trimmed), sorted(third.items())
        assert process.running, process.log_tail()


#: Counters history must never move (the first part of a ``name:label`` stat).
_NEVER = {
    "triggers",
    "decisions",
    "segment_entries",
    "segment_exits",
    "segments_evaluated",
    "dead_letters",
    "events_late",
    "conversions",
    "checks_claimed",
}
