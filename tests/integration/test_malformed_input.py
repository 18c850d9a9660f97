"""Bad records are dead-lettered with a reason; every good record around them counts once."""

from __future__ import annotations

import base64
import uuid

import orjson
import pytest
from redis.asyncio import Redis

from stream_app.devstack.processes import ManagedProcess
from stream_app.events.deadletter import DeadLetter
from stream_app.settings import Settings
from stream_app.storage.layout import Keys
from tests.integration.fixtures import (
    consume_until,
    dumps,
    event,
    eventually,
    produce,
    profile_fields,
)

pytestmark = pytest.mark.integration


async def test_malformed_records_go_to_the_dead_letter_topic_and_the_stream_carries_on(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    dave = f"dave-{uuid.uuid4().hex[:10]}"
    key = dave.encode()
    good = [event("page_view", dave, f"ok-{dave}-{i}", path="/") for i in range(4)]
    bad_member = {"type": "page_view", "event_id": f"bad-{dave}"}  # no customer, no time
    records: list[tuple[bytes | None, bytes]] = [
        (key, dumps(good[0])),
        (key, b"\xff\xfe garbage"),
        (key, dumps(good[0] | {"path": 42})),  # wrong schema
        (key, dumps(event("teleport", dave, f"x-{dave}"))),  # unknown type
        (key, b'{"pad": "' + b"x" * 2_000_000 + b'"}'),  # 2 MB
        (key, dumps(good[1])),
        (key, dumps(good[0])),  # duplicate event id: redelivery, not an error
        (key, dumps({"events": [good[2], bad_member, good[3]]})),
    ]
    offsets = await produce(settings, settings.topics.clickstream, records)

    dave_profile = await eventually(
        lambda: profile_fields(redis, keys, dave), lambda p: p.get("n") == "4", within=60
    )
    assert dave_profile["n:page_view"] == "4", "each good event counted exactly once"

    mine = {offsets[i] for i in (1, 2, 3, 4, 7)}
    letters = await consume_until(
        settings,
        settings.topics.deadletter,
        lambda seen: len([r for r in seen if orjson.loads(r.value)["source_offset"] in mine]) >= 5,
        within=30,
    )
    dead = [DeadLetter.model_validate_json(r.value) for r in letters if r.value]
    dead = [
        d for d in dead if d.source_offset in mine and d.source_topic == settings.topics.clickstream
    ]
    by_offset = {d.source_offset: d for d in dead}
    assert len(dead) == 5
    assert by_offset[offsets[1]].reason == "undecodable"
    assert base64.b64decode(by_offset[offsets[1]].original) == b"\xff\xfe garbage"
    assert by_offset[offsets[2]].reason == "schema_violation"
    assert "path" in by_offset[offsets[2]].detail
    assert by_offset[offsets[3]].reason == "unknown_event_type"
    oversized = by_offset[offsets[4]]
    assert oversized.reason == "oversized"
    assert oversized.truncated
    assert oversized.original_size > 2_000_000
    assert len(base64.b64decode(oversized.original)) == settings.worker.dlq_max_original_bytes
    member = by_offset[offsets[7]]
    assert (member.reason, member.index) == ("schema_violation", 1)
    assert {d.source_partition for d in dead} == {dead[0].source_partition}
