"""The one pass on the real servers, driven directly (no Faust): what a crash before the
publish leaves behind, and timers that fire at their due time.

The pass is fed the records a consumer would hand it; decisions go to the real broker
through an aiokafka producer, and everything else to the real Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from stream_app.events.decision import Decision
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.storage.layout import as_stats
from stream_app.streaming.publisher import OutRecord
from stream_app.streaming.rounds import counters_of
from stream_app.streaming.wiring import Engine, build_engine
from tests.integration.fixtures import dumps, event, isolated, produce, read_to_end

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Record:
    """A consumed record as the pass reads it."""

    topic: str
    partition: int
    offset: int
    value: bytes


class KafkaPublisher:
    """Publishes to the real broker and waits for its acknowledgements."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def publish(self, records: Sequence[OutRecord]) -> None:
        by_topic: dict[str, list[tuple[bytes | None, bytes]]] = {}
        for r in records:
            by_topic.setdefault(r.topic, []).append((r.key, r.value))
        for topic, pairs in by_topic.items():
            await produce(self._settings, topic, pairs)


class CrashBeforePublish(KafkaPublisher):
    """Dies (raises) the first time it is asked to publish: a worker killed after the
    batch was applied in memory and before anything of it was published or written."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.crashed = False

    async def publish(self, records: Sequence[OutRecord]) -> None:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("killed between apply and publish")
        await super().publish(records)


@pytest.fixture
async def mine(settings: Settings) -> Settings:
    """The session's servers with topics and keys of this test alone."""
    own, _ = isolated(settings, "p")
    own = own.updated(metrics={"port": None})
    await ensure_topics(own)
    return own


@contextlib.asynccontextmanager
async def engine(settings: Settings, publisher: KafkaPublisher) -> AsyncIterator[Engine]:
    built = build_engine(settings, publisher=publisher)
    try:
        yield built
    finally:
        await built.stores.redis.aclose()


def batch(settings: Settings, cid: str, item: str) -> list[Record]:
    """A customer who may get push views an item, and the item's price drops 20 %."""
    topics = settings.topics
    now = datetime.now(UTC)
    viewed = event("product_view", cid, f"v-{cid}", item_id=item, category="shoes", price=50.0)
    listed = {"type": "item_update", "item_id": item, "category": "shoes", "in_stock": True}
    values = [
        (topics.identity, event("consent", cid, f"c-{cid}", channel="push", opted_in=True)),
        (topics.clickstream, viewed),
        (topics.catalog, listed | _at(now - timedelta(seconds=2), f"u-{cid}") | {"price": 50.0}),
        (topics.catalog, listed | _at(now - timedelta(seconds=1), f"u2-{cid}") | {"price": 40.0}),
    ]
    return [Record(topic, 0, n, dumps(value)) for n, (topic, value) in enumerate(values)]


def _at(moment: datetime, event_id: str) -> dict[str, str]:
    return {"event_time": moment.isoformat(), "event_id": event_id}


async def test_a_crash_between_apply_and_publish_leaves_the_decision_to_the_replay(
    mine: Settings,
) -> None:
    cid, item = f"crash-{uuid.uuid4().hex[:8]}", f"sku-{uuid.uuid4().hex[:8]}"
    records = batch(mine, cid, item)
    crashing = CrashBeforePublish(mine)
    async with engine(mine, crashing) as first:
        with pytest.raises(RuntimeError, match="between apply and publish"):
            await first.one_pass.records(records)
        assert (await first.stores.profiles.stored([cid]))[0].exists is False, "nothing written"
        # The batch is redelivered (its offsets were never committed), once and again.
        await first.one_pass.records(records)
        again = await first.one_pass.records(records)
    counted = as_stats(counters_of(again))
    assert (counted["events_duplicate"], counted["events_applied"]) == (4, 0), "nothing twice"
    decisions = [
        Decision.model_validate_json(r.value)
        for r in await read_to_end(mine, [mine.topics.decisions])
        if r.value
    ]
    mine_only = [d for d in decisions if d.customer_id == cid]
    assert [d.campaign_id for d in mine_only] == ["price_drop"], "exactly one decision"


async def test_a_due_check_fires_at_its_due_time_not_at_a_polling_tick(mine: Settings) -> None:
    cid = f"timer-{uuid.uuid4().hex[:8]}"
    stamp = datetime.now(UTC)
    values = [
        (mine.topics.identity, event("consent", cid, f"c-{cid}", channel="push", opted_in=True)),
        (
            mine.topics.clickstream,
            event("add_to_cart", cid, f"a-{cid}", item_id="sku-1", category="shoes", price=9.0)
            | {"event_time": stamp.isoformat()},
        ),
    ]
    records = [Record(t, 0, n, dumps(v)) for n, (t, v) in enumerate(values)]
    async with engine(mine, KafkaPublisher(mine)) as built:
        timer = asyncio.create_task(built.timer.run())
        try:
            await asyncio.sleep(0.2)  # the timer claims nothing and sleeps: nothing is due
            await built.one_pass.records(records)  # arms the cart check: idle 2 s
            due = stamp + timedelta(seconds=2)
            deadline = time.monotonic() + 10
            found: list[Decision] = []
            while not found and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                found = [
                    Decision.model_validate_json(r.value)
                    for r in await read_to_end(mine, [mine.topics.decisions])
                    if r.value
                ]
        finally:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
    [reminder] = found
    assert reminder.campaign_id == "cart_abandonment"
    late = reminder.decided_at - due
    assert timedelta(0) <= late < timedelta(milliseconds=500), f"{late} after its due time"


async def test_a_reading_of_an_unknown_device_is_dead_lettered_and_counted(
    mine: Settings,
) -> None:
    reading = {
        "type": "proximity",
        "event_id": f"r-{uuid.uuid4().hex[:8]}",
        "device_id": f"dev-{uuid.uuid4().hex[:8]}",
        "event_time": datetime.now(UTC).isoformat(),
        "store_id": "store-7",
        "distance_m": 15.0,
    }
    async with engine(mine, KafkaPublisher(mine)) as built:
        work = await built.one_pass.records([Record(mine.topics.sensor, 0, 0, dumps(reading))])
    assert as_stats(counters_of(work))["dead_letters:unknown_device"] == 1
    [letter] = [r for r in await read_to_end(mine, [mine.topics.deadletter]) if r.value]
    assert b"unknown_device" in (letter.value or b"")


async def test_the_timer_stops_when_asked_and_its_run_returns(mine: Settings) -> None:
    async with engine(mine, KafkaPublisher(mine)) as built:
        timer = asyncio.create_task(built.timer.run())
        await asyncio.sleep(0.2)  # claimed nothing: asleep until max_sleep
        await asyncio.wait_for(built.timer.stop(), 5)
        assert timer.done()
        assert timer.exception() is None
