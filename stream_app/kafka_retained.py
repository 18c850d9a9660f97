"""Read what the inbound topics still retain, from the beginning, with a plain consumer
(no group: nothing is committed, the workers' offsets are untouched). For
``stream-app audit``, which recomputes profiles from it."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from stream_app.clock import from_ms
from stream_app.events.decode import decode_record
from stream_app.events.registry import Event
from stream_app.kafka import client_options
from stream_app.settings import Settings


async def retained_events(
    settings: Settings, keep: Callable[[Event], bool], within_s: float = 600.0
) -> list[Event]:
    """The events ``keep`` wants of every inbound topic up to its end offsets of now, in
    the order they were received (record timestamps; ties by topic and offset). Each
    record is decoded as of its own timestamp, as the worker judged it then (an event
    that was fresh when it came is not refused as too old now)."""
    streams = settings.topics.streams()
    limits = settings.worker.decode_limits()
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    found: list[tuple[int, str, int, int, Event]] = []
    try:
        await consumer.topics()  # metadata of every topic
        partitions = [
            TopicPartition(topic, p)
            for topic in streams
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning()
        end = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + within_s
        todo = {tp for tp in partitions if end[tp] > 0}
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"could not read the inbound topics to their end in {within_s} s"
                )
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for r in records:
                    if r.value is None:
                        continue
                    decoded = decode_record(
                        streams[tp.topic], r.value, limits, from_ms(r.timestamp)
                    )
                    found += [
                        (r.timestamp, tp.topic, tp.partition, r.offset, e)
                        for e in decoded.events
                        if keep(e)
                    ]
            todo = {tp for tp in todo if await consumer.position(tp) < end[tp]}
    finally:
        await consumer.stop()
    found.sort(key=lambda row: row[:4])
    return [row[4] for row in found]
