"""Readings of unlinked devices wait, end to end: a reading that names only a device
nobody linked yet is parked in Redis and applied by the pass of the traits that link
the device (a few seconds later, on the identity topic); without a link it is
dead-lettered as ``unknown_device`` at the end of its grace, not before; a reading
redelivered while parked, or after it was applied, is applied once.

A worker of its own runs with a short grace (``GRACE``), so the expiry is seen in a
few seconds."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from stream_app.devstack.processes import ManagedProcess
from stream_app.devstack.workers import worker_process
from stream_app.events.deadletter import DeadLetter
from stream_app.kafka_topics import ensure_topics
from stream_app.profiles.pseudonym import pseudonymize
from stream_app.settings import Settings
from stream_app.storage.connection import redis_client
from stream_app.storage.layout import Keys
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import (
    consume_until,
    dumps,
    event,
    eventually,
    isolated,
    produce,
    profile_fields,
)

pytestmark = pytest.mark.integration

GRACE = timedelta(seconds=8)


@pytest.fixture(scope="module", params=["redis", "cluster"])
def parked_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """On the session's single Redis, then on its Redis Cluster (where the parked hash
    and the customer sit in two slots: read before, taken after the customer's commit)."""
    settings: Settings = request.getfixturevalue(
        "settings" if request.param == "redis" else "cluster_settings"
    )
    own, _ = isolated(settings, "dev", tmp_path_factory.mktemp("faust-devices"))
    return own.updated(profiles={"device_link_grace": GRACE, "device_parked_max": 5})


@pytest.fixture(scope="module")
def parked_worker(parked_settings: Settings) -> Iterator[ManagedProcess]:
    asyncio.run(ensure_topics(parked_settings))
    name = "unlinked-devices" + ("-cluster" if parked_settings.redis.cluster else "")
    process = worker_process(parked_settings, ARTIFACTS / "logs", name=name)
    with process:
        yield process
        assert process.running, f"worker died:\n{process.log_tail()}"


@pytest.fixture
async def stack(
    parked_worker: ManagedProcess, parked_settings: Settings
) -> AsyncIterator[tuple[Settings, Redis, Keys]]:
    """The worker's settings and Redis, once it applies events."""
    client = redis_client(parked_settings)
    keys = Keys(parked_settings.redis.key_prefix)
    try:
        await _ready(parked_settings, client, keys)
        yield parked_settings, client, keys
    finally:
        await client.aclose()


def _reading(device: str) -> dict[str, Any]:
    return {
        "type": "proximity",
        "event_id": f"r-{uuid.uuid4().hex[:10]}",
        "device_id": device,
        "event_time": datetime.now(UTC).isoformat(),
        "store_id": "store-7",
        "distance_m": 15.0,
    }


async def _stats(redis: Redis, keys: Keys) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in (await redis.hgetall(keys.stats())).items()}


async def _ready(settings: Settings, redis: Redis, keys: Keys) -> None:
    """Wait until the worker applies events (start-up takes a few seconds)."""
    cid = f"warm-{uuid.uuid4().hex[:6]}"
    warm = event("page_view", cid, f"w-{uuid.uuid4().hex[:8]}", path="/")
    await produce(settings, settings.topics.clickstream, [(cid.encode(), dumps(warm))])
    fields = await eventually(lambda: profile_fields(redis, keys, cid), lambda f: "n" in f, 90)
    assert fields, "the worker never applied an event"


async def _dead_letters(settings: Settings, event_id: str, within: float) -> list[DeadLetter]:
    def mine(records: list[Any]) -> list[DeadLetter]:
        letters = [DeadLetter.model_validate_json(r.value) for r in records if r.value]
        return [d for d in letters if event_id.encode() in base64.b64decode(d.original)]

    records = await consume_until(
        settings, settings.topics.deadletter, lambda seen: bool(mine(seen)), within=within
    )
    return mine(records)


async def test_a_reading_waits_for_the_link_that_comes_two_seconds_later(
    stack: tuple[Settings, Redis, Keys],
) -> None:
    settings, redis, keys = stack
    cid, device = f"ann-{uuid.uuid4().hex[:6]}", f"phone-{uuid.uuid4().hex[:8]}"
    reading = _reading(device)
    before = await _stats(redis, keys)

    sent_at = datetime.now(UTC)
    await produce(settings, settings.topics.sensor, [(device.encode(), dumps(reading))])
    parked = await eventually(
        lambda: _stats(redis, keys),
        lambda s: s.get("device_readings:parked", 0) > before.get("device_readings:parked", 0),
    )
    assert parked.get("device_readings:parked", 0) - before.get("device_readings:parked", 0) == 1
    # redelivered while it waits: still one reading parked
    await produce(settings, settings.topics.sensor, [(device.encode(), dumps(reading))])
    parked_key = keys.parked(_token(settings, device))
    await eventually(lambda: redis.hlen(parked_key), lambda n: n == 1)
    [(_, stored)] = (await redis.hgetall(parked_key)).items()
    assert device.encode() not in stored, "a parked reading holds the token, not the raw id"

    await asyncio.sleep(2.0)
    assert await redis.hlen(parked_key) == 1, "redelivered while parked: parked once"
    traits = event("traits", cid, f"t-{uuid.uuid4().hex[:8]}", device_ids=[device])
    await produce(settings, settings.topics.identity, [(cid.encode(), dumps(traits))])
    fields = await eventually(
        lambda: profile_fields(redis, keys, cid), lambda f: "n:proximity" in f
    )
    assert (fields["n:traits"], fields["n:proximity"], fields["near_store"]) == (
        "1",
        "1",
        "store-7",
    )
    after = await _stats(redis, keys)
    assert (
        after.get("device_readings:applied_after_wait", 0)
        - before.get("device_readings:applied_after_wait", 0)
        == 1
    )
    assert after.get("device_readings:parked", 0) - before.get("device_readings:parked", 0) == 1
    assert await redis.hlen(parked_key) == 0, "taken from the park with the link"

    # redelivered after it was applied: a duplicate
    await produce(settings, settings.topics.sensor, [(device.encode(), dumps(reading))])
    final = await eventually(
        lambda: _stats(redis, keys),
        lambda s: s.get("events_duplicate", 0) > after.get("events_duplicate", 0),
    )
    assert final.get("events_duplicate", 0) - after.get("events_duplicate", 0) == 1
    assert (await profile_fields(redis, keys, cid))["n:proximity"] == "1"
    # past the grace, nothing of it reaches the dead-letter topic: a letter comes within
    # GRACE + 3 s of its sending (the test below), so wait to GRACE + 2 s and read 2 s
    await _sleep_until(sent_at + GRACE + timedelta(seconds=2))
    assert not await _dead_letters(settings, str(reading["event_id"]), within=2.0)


async def test_without_a_link_a_reading_is_dead_lettered_when_its_grace_ends(
    stack: tuple[Settings, Redis, Keys],
) -> None:
    settings, redis, keys = stack
    device = f"lost-{uuid.uuid4().hex[:8]}"
    reading = _reading(device)
    before = await _stats(redis, keys)
    sent_at = datetime.now(UTC)
    await produce(settings, settings.topics.sensor, [(device.encode(), dumps(reading))])

    early = await _dead_letters(
        settings, str(reading["event_id"]), within=GRACE.total_seconds() / 2
    )
    assert not early, "dead-lettered before its grace ended"
    [letter] = await _dead_letters(settings, str(reading["event_id"]), within=60)
    assert letter.reason == "unknown_device"
    waited = letter.dead_lettered_at - sent_at
    assert GRACE <= waited < GRACE + timedelta(seconds=3), waited
    assert device.encode() not in base64.b64decode(letter.original), "no raw device id"
    after = await eventually(
        lambda: _stats(redis, keys),
        lambda s: s.get("device_readings:expired", 0) > before.get("device_readings:expired", 0),
    )
    for name in ("device_readings:expired", "dead_letters:unknown_device"):
        assert after.get(name, 0) - before.get(name, 0) == 1, name
    assert not await redis.hlen(keys.parked(_token(settings, device)))


async def _sleep_until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def _token(settings: Settings, device: str) -> str:
    secret = settings.secrets.pseudonym_secret.get_secret_value().encode()
    return pseudonymize(secret, "device", device)
