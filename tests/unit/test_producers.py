"""The envelope packer and ``EventProducer`` against a fake Kafka client."""

from __future__ import annotations

import orjson
import pytest

from stream_app.events.backfill import BACKFILL_HEADERS, is_backfill
from stream_app.producers import producer as producer_module
from stream_app.producers.envelopes import EnvelopePacker, PackedRecord
from stream_app.producers.producer import DeliveryError, EventProducer, InvalidEvent
from stream_app.settings import Settings
from tests.unit.fixtures import FakeKafkaProducer, event


def member(n: int) -> bytes:
    return orjson.dumps({"n": n})


def members(record: PackedRecord) -> list[int]:
    return [m["n"] for m in orjson.loads(record.value)["events"]]


def test_an_envelope_closes_at_its_event_count() -> None:
    packer = EnvelopePacker(max_events=3)
    done = [r for n in range(7) for r in packer.add("t", b"k", member(n), f"e{n}", now=0.0)]
    assert [members(r) for r in done] == [[0, 1, 2], [3, 4, 5]]
    assert [members(r) for r in packer.drain()] == [[6]]


def test_an_envelope_closes_before_it_would_pass_its_byte_limit() -> None:
    packer = EnvelopePacker(max_events=100, max_bytes=30)
    done = [r for n in range(5) for r in packer.add("t", b"k", member(n), f"e{n}", now=0.0)]
    done += packer.drain()
    assert all(len(r.value) <= 30 + len(b'{"events":[]}') for r in done)
    assert [n for r in done for n in members(r)] == [0, 1, 2, 3, 4]
    big = b'{"n":"' + b"x" * 100 + b'"}'
    packer = EnvelopePacker(max_events=5, max_bytes=30)
    assert packer.add("t", b"k", big, "e", now=0.0) == []
    [alone] = packer.drain()
    assert (alone.value, alone.event_ids) == (b'{"events":[' + big + b"]}", ("e",))


def test_events_are_grouped_per_topic_and_key_in_order() -> None:
    packer = EnvelopePacker(max_events=10)
    sent = [("a", b"c1", 0), ("b", b"c1", 1), ("a", b"c2", 2), ("a", b"c1", 3), ("b", b"c1", 4)]
    for topic, key, n in sent:
        assert packer.add(topic, key, member(n), f"e{n}", now=float(n)) == []
    done = packer.drain()
    assert [(r.topic, r.key, members(r)) for r in done] == [
        ("a", b"c1", [0, 3]),
        ("b", b"c1", [1, 4]),
        ("a", b"c2", [2]),
    ]
    assert done[0].event_ids == ("e0", "e3")


def test_only_envelopes_opened_by_the_cutoff_are_due() -> None:
    packer = EnvelopePacker(max_events=10)
    packer.add("t", b"old", member(0), "e0", now=1.0)
    packer.add("t", b"new", member(1), "e1", now=2.0)
    assert [r.key for r in packer.due(1.5)] == [b"old"]
    assert [r.key for r in packer.drain()] == [b"new"]


def test_one_event_per_record_is_not_enveloped() -> None:
    [record] = EnvelopePacker(max_events=1).add("t", b"k", member(1), "e1", now=0.0)
    assert record.value == member(1)


@pytest.fixture
def fake_kafka(monkeypatch: pytest.MonkeyPatch) -> type[FakeKafkaProducer]:
    monkeypatch.setattr(producer_module, "AIOKafkaProducer", FakeKafkaProducer)
    return FakeKafkaProducer


async def test_producer_sends_valid_events_keyed_to_their_topic(
    fake_kafka: type[FakeKafkaProducer],
) -> None:
    settings = Settings()
    async with EventProducer(settings, envelope_size=2) as producer:
        for n in range(3):
            await producer.send(event("app_open", event_id=f"e{n}"))
        await producer.send(event("app_open", event_id="x", customer_id="c-2"))
    assert producer.stats.events_sent == 4
    by_key: dict[bytes, list[str]] = {}
    for topic, key, value in fake_kafka.last.sent:
        assert topic == settings.topics.clickstream
        by_key.setdefault(key, []).extend(m["event_id"] for m in orjson.loads(value)["events"])
    assert by_key == {b"c-1": ["e0", "e1", "e2"], b"c-2": ["x"]}


async def test_a_backfilling_producer_marks_every_record(
    fake_kafka: type[FakeKafkaProducer],
) -> None:
    async with EventProducer(Settings(), envelope_size=2, headers=BACKFILL_HEADERS) as producer:
        for n in range(3):
            await producer.send(event("app_open", event_id=f"e{n}"))
    headers = fake_kafka.last.headers
    assert len(headers) == len(fake_kafka.last.sent) == 2
    assert all(is_backfill(h) for h in headers)
    async with EventProducer(Settings()) as live:
        await live.send(event("app_open", event_id="live"))
    assert fake_kafka.last.headers == [[]]


async def test_an_invalid_event_is_refused_before_sending(
    fake_kafka: type[FakeKafkaProducer],
) -> None:
    async with EventProducer(Settings()) as producer:
        with pytest.raises(InvalidEvent, match="schema_violation"):
            await producer.send({"type": "app_open", "event_id": "e1"})
        with pytest.raises(InvalidEvent, match="unknown_type"):
            await producer.send(event("teleport"))
    assert fake_kafka.last.sent == []


async def test_a_refused_record_raises_naming_its_events(
    fake_kafka: type[FakeKafkaProducer], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings()
    monkeypatch.setattr(fake_kafka, "refuse", frozenset({settings.topics.clickstream}))
    producer = EventProducer(settings, envelope_size=2)
    await producer.start()
    try:
        await producer.send(event("app_open", event_id="a"))
        await producer.send(event("app_open", event_id="b"))
        await producer.send(event("app_open", event_id="c", customer_id="c-2"))
        with pytest.raises(DeliveryError) as refused:
            await producer.flush()
        await producer.flush()  # reported once
    finally:
        await producer.stop()
    assert sorted(refused.value.failed) == ["a", "b", "c"]
    assert producer.stats.events_sent == 0
