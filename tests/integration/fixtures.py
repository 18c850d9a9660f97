"""Helpers for the integration tests: produce, consume and wait on the real servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from stream_app.settings import Settings

T = TypeVar("T")


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def event(type_: str, customer: str, event_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": type_,
        "event_id": event_id,
        "customer_id": customer,
        "event_time": now_iso(),
        **fields,
    }


def dumps(payload: Any) -> bytes:
    return orjson.dumps(payload)


async def produce(
    settings: Settings, topic: str, records: Sequence[tuple[bytes | None, bytes]]
) -> list[int]:
    """Send records in order; returns their offsets."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, max_request_size=4_000_000, acks="all"
    )
    await producer.start()
    try:
        offsets = []
        for key, value in records:
            meta = await producer.send_and_wait(topic, value, key=key)
            offsets.append(meta.offset)
        return offsets
    finally:
        await producer.stop()


async def consume_until(
    settings: Settings,
    topic: str,
    done: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    within: float = 60.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``topic`` from the start (no group) until ``done(records)``, at most ``within`` s."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                seen.extend(batch)
            if done(seen):
                return seen
        return seen
    finally:
        await consumer.stop()


async def eventually(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], within: float = 60.0
) -> T:
    """Poll ``probe`` until ``ok`` holds; returns the last value either way."""
    deadline = time.monotonic() + within
    value = await probe()
    while not ok(value) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        value = await probe()
    return value
