"""``EventProducer`` on the real servers: events arrive decodable, bad ones never leave,
and records the broker cannot take raise naming their events."""

from __future__ import annotations

import time

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from stream_app.events.registry import EVENT_ADAPTERS, Stream
from stream_app.kafka import client_options
from stream_app.kafka_topics import ensure_topics
from stream_app.producers import DeliveryError, EventProducer, InvalidEvent
from stream_app.settings import Settings
from tests.integration.fixtures import event, isolated

pytestmark = pytest.mark.integration


async def read_topic(settings: Settings, topic: str, records: int) -> list[bytes]:
    """The first ``records`` values on ``topic``, every partition read from the start."""
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        consumer.assign(
            [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        )
        await consumer.seek_to_beginning()
        values: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(values) < records and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                values.extend(record.value for record in batch if record.value is not None)
        return values
    finally:
        await consumer.stop()


async def test_sent_events_arrive_enveloped_and_decodable(settings: Settings) -> None:
    mine, _ = isolated(settings, "producer")
    await ensure_topics(mine)
    sent = [event("app_open", f"c{n % 2}", f"e{n}") for n in range(5)]
    async with EventProducer(mine, envelope_size=2) as producer:
        for payload in sent:
            await producer.send(payload)
        with pytest.raises(InvalidEvent):
            await producer.send(event("app_open", "c1", "bad", event_time="yesterday"))
    assert (producer.stats.events_sent, producer.stats.records_sent) == (5, 3)

    values = await read_topic(mine, mine.topics.clickstream, 3)
    adapter = EVENT_ADAPTERS[Stream.CLICKSTREAM]
    arrived = [
        adapter.validate_python(member).event_id
        for value in values
        for member in orjson.loads(value)["events"]
    ]
    assert sorted(arrived) == [f"e{n}" for n in range(5)], "each once, and never the bad one"
    assert [i for i in arrived if i in ("e0", "e2", "e4")] == ["e0", "e2", "e4"], "order kept"


async def test_a_topic_the_broker_refuses_raises_naming_the_events(settings: Settings) -> None:
    mine, run = isolated(settings, "refused")
    # Kafka topic names are [a-zA-Z0-9._-]: the broker has no such topic, nor creates it.
    refused_topics = mine.topics.model_copy(update={"clickstream": f"no such topic {run}"})
    mine = mine.model_copy(update={"topics": refused_topics})
    async with EventProducer(mine, request_timeout_ms=1000) as producer:
        with pytest.raises(DeliveryError) as refused:
            await producer.send(event("app_open", "c1", "lost"))
    assert refused.value.failed == ("lost",)
