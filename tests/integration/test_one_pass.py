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

from stream_app.clock import to_ms
from stream_app.events.decision import Decision
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.storage.schedule import Claimed
from stream_app.storage.statfields import as_stats
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


async def test_a_reading_of_an_unknown_device_waits_and_replays_change_nothing(
    mine: Settings,
) -> None:
    """Parked once however often its batch is replayed; applied once by the pass of the
    traits that link the device, however often that batch is replayed."""
    device, cid = f"dev-{uuid.uuid4().hex[:8]}", f"c-{uuid.uuid4().hex[:8]}"
    reading = {
        "type": "proximity",
        "event_id": f"r-{uuid.uuid4().hex[:8]}",
        "device_id": device,
        "event_time": datetime.now(UTC).isoformat(),
        "store_id": "store-7",
        "distance_m": 15.0,
    }
    readings = [Record(mine.topics.sensor, 0, 0, dumps(reading))]
    traits = event("traits", cid, f"t-{cid}", device_ids=[device])
    linking = [Record(mine.topics.identity, 0, 0, dumps(traits))]
    async with engine(mine, KafkaPublisher(mine)) as built:
        counts = [as_stats(counters_of(await built.one_pass.records(readings))) for _ in "ab"]
        assert [c["device_readings:parked"] for c in counts] == [1, 0]
        linked = [as_stats(counters_of(await built.one_pass.records(linking))) for _ in "ab"]
        assert [c["device_readings:applied_after_wait"] for c in linked] == [1, 0]
        assert [c["events_applied"] for c in linked] == [2, 0]
        again = as_stats(counters_of(await built.one_pass.records(readings)))
        assert (again["events_duplicate"], again["device_readings:parked"]) == (1, 0)
    assert not [r for r in await read_to_end(mine, [mine.topics.deadletter]) if r.value]


async def test_a_parked_reading_is_dead_lettered_by_its_check_once_its_grace_is_over(
    mine: Settings,
) -> None:
    mine = mine.updated(profiles={"device_link_grace": timedelta(milliseconds=50)})
    reading = {
        "type": "ambient",
        "event_id": f"r-{uuid.uuid4().hex[:8]}",
        "device_id": f"dev-{uuid.uuid4().hex[:8]}",
        "event_time": datetime.now(UTC).isoformat(),
        "temperature_c": 21.0,
        "weather": "rain",
    }
    async with engine(mine, KafkaPublisher(mine)) as built:
        await built.one_pass.records([Record(mine.topics.sensor, 0, 0, dumps(reading))])
        await asyncio.sleep(0.1)
        claimed = await built.stores.schedule.claim(to_ms(datetime.now(UTC)), 10, 5_000)
        [member] = [m for m in claimed.due if m.startswith("park:")]
        work = await built.one_pass.due(claimed)
        again = await built.one_pass.due(Claimed({member: claimed.due[member]}, None))
    assert as_stats(work.written)["checks_claimed"] >= 1
    assert not as_stats(counters_of(again)).get("device_readings:expired")
    [letter] = [r for r in await read_to_end(mine, [mine.topics.deadletter]) if r.value]
    assert b"unknown_device" in (letter.value or b"")


async def test_the_timer_stops_when_asked_and_its_run_returns(mine: Settings) -> None:
    async with engine(mine, KafkaPublisher(mine)) as built:
        timer = asyncio.create_task(built.timer.run())
        await asyncio.sleep(0.2)  # claimed nothing: asleep until max_sleep
        await asyncio.wait_for(built.timer.stop(), 5)
        assert timer.done()
        assert timer.exception() is None
