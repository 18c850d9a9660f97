"""Helpers for the integration tests: produce, consume and wait on the real servers."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from redis.asyncio import Redis

from stream_app.devstack.processes import ManagedProcess
from stream_app.settings import Settings
from stream_app.storage.keys import Keys
from stream_app.streaming.kafka import client_options

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
    producer = AIOKafkaProducer(**client_options(settings), max_request_size=4_000_000, acks="all")
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
        **client_options(settings),
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


async def read_to_end(
    settings: Settings, topics: Sequence[str], within: float = 60.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on ``topics`` (all partitions), from the start to the end offsets of now."""
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # refreshes metadata
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        records: list[ConsumerRecord[bytes, bytes]] = []
        if not partitions:
            return records
        consumer.assign(partitions)
        await consumer.seek_to_beginning()
        end = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + within
        while any([await consumer.position(tp) < end[tp] for tp in partitions]):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {list(topics)} to their end in {within} s")
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def event_counts(
    redis: Redis, keys: Keys, customers: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Per customer, the profile's ``n`` and ``n:<type>`` fields (empty for no profile)."""
    pipe = redis.pipeline(transaction=False)
    for customer in customers:
        pipe.hgetall(keys.profile(customer))
    out: dict[str, dict[str, int]] = {}
    for customer, raw in zip(customers, await pipe.execute(), strict=True):
        fields = {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}
        out[customer] = {
            name: int(value) for name, value in fields.items() if name == "n" or name[:2] == "n:"
        }
    return out


def sigkill(process: ManagedProcess) -> None:
    """``kill -9`` the process (its own process group), no SIGTERM first; then reap it."""
    pid = process.pid
    assert pid is not None, f"{process.name} was not started"
    assert process.running, f"{process.name} is not running"
    os.killpg(pid, signal.SIGKILL)
    process.stop(timeout=0)
