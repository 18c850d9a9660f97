"""Helpers for the integration tests: produce, consume and wait on the real servers."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2
from aiokafka.structs import ConsumerRecord
from redis.asyncio import Redis

from stream_app.clock import to_ms
from stream_app.decisions.lift import Arm, Stratum
from stream_app.devstack.processes import ManagedProcess
from stream_app.events.decision import Decision
from stream_app.events.topics import TopicNames
from stream_app.kafka import client_options
from stream_app.profiles.ops import ProfileUpdate
from stream_app.profiles.state import ProfileState, apply_updates
from stream_app.settings import Settings
from stream_app.storage.bundle import build_stores
from stream_app.storage.commit import Committer, Writes
from stream_app.storage.customers import Ask
from stream_app.storage.layout import Keys, event_key
from stream_app.storage.lift_fields import parse_lift_value
from stream_app.storage.profiles import ProfileStore

T = TypeVar("T")

# The embedded broker answers a fetch only at its max wait (PLATFORM-NOTES), and
# aiokafka's default is 500 ms: a record arriving while the tests wait would be seen
# up to that late. Their consumers ask every 50 ms instead.
FETCH_MAX_WAIT_MS = 50
POLL_S = 0.1  # between probes of ``eventually``


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def isolated(settings: Settings, tag: str, data_dir: Path | None = None) -> tuple[Settings, str]:
    """The session's servers with topics, Redis keys and consumer group of one test
    alone (and a Faust data dir of its own when given); returns them and the run id."""
    run = f"{tag}{uuid.uuid4().hex[:8]}"
    topics = {name: f"{value}.{run}" for name, value in TopicNames().model_dump().items()}
    worker: dict[str, Any] = {"app_id": f"stream-app-{run}"}
    if data_dir is not None:
        worker["data_dir"] = str(data_dir)
    own = settings.updated(redis={"key_prefix": run}, worker=worker, topics=TopicNames(**topics))
    return own, run


def partition_of(key: bytes, partitions: int) -> int:
    """Where Kafka's default partitioner (``send(key=...)``) puts ``key``."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def customers_per_partition(prefix: str, partitions: int, each: int) -> dict[int, list[str]]:
    """``each`` customer ids (``<prefix>-<n>``) for every one of ``partitions``, by the
    partition their key goes to."""
    out: dict[int, list[str]] = {p: [] for p in range(partitions)}
    n = 0
    while any(len(group) < each for group in out.values()):
        customer = f"{prefix}-{n}"
        n += 1
        group = out[partition_of(customer.encode(), partitions)]
        if len(group) < each:
            group.append(customer)
    return out


def ids(prefix: str) -> str:
    """A fresh id: ``<prefix>-<10 hex digits>``."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def proximity(device: str, store_id: str = "store-7") -> dict[str, Any]:
    """A device-only reading (no customer id): the device was near ``store_id`` just now."""
    return {
        "type": "proximity",
        "event_id": ids("e"),
        "device_id": device,
        "event_time": now_iso(),
        "store_id": store_id,
        "distance_m": 15.0,
    }


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
    """Send records in order (the producer keeps each partition's order); returns their
    offsets. All are sent before any is awaited: one at a time cost a round trip each."""
    producer = AIOKafkaProducer(**client_options(settings), max_request_size=4_000_000, acks="all")
    await producer.start()
    try:
        sent = [await producer.send(topic, value, key=key) for key, value in records]
        return [(await delivered).offset for delivered in sent]
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
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
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


async def decisions_until(
    settings: Settings, customer: str, campaign: str, within: float = 60.0
) -> list[Decision]:
    """The decisions topic from the start until it holds one of ``campaign`` for
    ``customer`` (at most ``within`` s); every decision read."""
    wanted = f'"campaign_id":"{campaign}"'.encode()
    records = await consume_until(
        settings,
        settings.topics.decisions,
        lambda seen: any(r.key == customer.encode() and wanted in (r.value or b"") for r in seen),
        within=within,
    )
    return [Decision.model_validate_json(r.value) for r in records if r.value]


async def eventually(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], within: float = 60.0
) -> T:
    """Poll ``probe`` until ``ok`` holds; returns the last value either way."""
    deadline = time.monotonic() + within
    value = await probe()
    while not ok(value) and time.monotonic() < deadline:
        await asyncio.sleep(POLL_S)
        value = await probe()
    return value


async def read_to_end(
    settings: Settings, topics: Sequence[str], within: float = 60.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on ``topics`` (all partitions), from the start to the end offsets of now."""
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
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


async def commit(redis: Redis, *effects: Callable[[Writes], None]) -> None:
    """Write what ``effects`` add to one ``Writes``, as a pass commits (tests seed data
    through the stores' own writes)."""
    writes = Writes()
    for effect in effects:
        effect(writes)
    assert await Committer(redis).commit(writes) == []


async def write_profiles(
    redis: Redis, settings: Settings, updates: Sequence[ProfileUpdate], now: datetime
) -> None:
    """Apply ``updates`` to their customers' stored profiles as the worker does (read,
    apply in memory, write over the version read)."""
    stores = build_stores(redis, settings)
    by_customer: dict[str, list[ProfileUpdate]] = {}
    for update in updates:
        by_customer.setdefault(update.customer_id, []).append(update)
    loaded = await stores.customers.load([Ask(cid) for cid in by_customer], now)
    writes = Writes()
    for cid, mine in by_customer.items():
        state = loaded[cid].state
        apply_updates(state, mine, set(), settings.profiles.state_limits(), to_ms(now))
        keys = [(event_key(u.event_id), u.event_ms) for u in mine]
        kept = [event_key(u.event_id) for u in mine if u.lifelong]
        stores.profiles.write(writes, state, keys, kept, 0)
    assert await stores.committer.commit(writes) == []


async def stored_states(redis: Redis, keys: Keys, customers: Sequence[str]) -> list[ProfileState]:
    """Customers' profiles as stored (empty states for those without one)."""
    return await ProfileStore(redis, keys, profile_ttl_s=1, anonymous_ttl_s=1).stored(customers)


async def profile_fields(redis: Redis, keys: Keys, customer: str) -> dict[str, str]:
    """A customer's stored profile fields as text (empty without a profile)."""
    [state] = await stored_states(redis, keys, [customer])
    return {name: str(value) for name, value in state.fields.items()}


async def event_counts(
    redis: Redis, keys: Keys, customers: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Per customer, the profile's ``n`` and ``n:<type>`` fields (empty for no profile)."""
    states = await stored_states(redis, keys, customers)
    return {
        state.customer_id: {
            name: int(value)
            for name, value in state.fields.items()
            if name == "n" or name[:2] == "n:"
        }
        for state in states
    }


def sigkill(process: ManagedProcess) -> None:
    """``kill -9`` the process (its own process group), no SIGTERM first; then reap it."""
    pid = process.pid
    assert pid is not None, f"{process.name} was not started"
    assert process.running, f"{process.name} is not running"
    os.killpg(pid, signal.SIGKILL)
    process.stop(timeout=0)


async def scanned_strata(redis: Redis, keys: Keys, campaign: str) -> list[Stratum]:
    """A campaign's strata counted the way reports did before the counts: every decision
    of its record, scanned (the reference the counts must equal)."""
    counts: Counter[tuple[str, str, bool]] = Counter()
    async for _, value in redis.hscan_iter(keys.lift(campaign)):
        counts[parse_lift_value(value.decode())] += 1
    return [
        Stratum(
            stratum,
            *(
                Arm(
                    counts[(arm, stratum, False)] + counts[(arm, stratum, True)],
                    counts[(arm, stratum, True)],
                )
                for arm in ("treated", "holdout")
            ),
        )
        for stratum in sorted({stratum for _, stratum, _ in counts})
    ]
