"""Replaying an event log: every valid line lands once on its topic, keyed; bad lines reported."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.structs import ConsumerRecord

from stream_app.clock import utc_now
from stream_app.events.encode import record_key
from stream_app.events.eventlog import LineReason, stream_for_type, write_lines
from stream_app.events.registry import Event, Stream
from stream_app.producers import replay as replay_module
from stream_app.producers.replay import replay_file
from stream_app.settings import Settings
from stream_app.simulation.catalog import make_catalog
from stream_app.simulation.generator import EventGenerator
from stream_app.simulation.population import make_population
from tests.integration.fixtures import partition_of, read_to_end

pytestmark = pytest.mark.integration


def simulated(count: int, seed: int) -> list[Event]:
    start = utc_now() - timedelta(minutes=10)
    generator = EventGenerator(make_population(30, seed), make_catalog(seed), seed, start, 50.0)
    return [event for _, event in islice(generator, count)]


def payload(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    """The record's JSON object; other tests share these topics and send garbage too."""
    try:
        value = orjson.loads(record.value)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def topic_of(event: Event, settings: Settings) -> str:
    return settings.topics.for_stream(stream_for_type[event.type])


async def test_every_valid_line_arrives_once_on_its_topic_and_bad_lines_are_counted(
    settings: Settings, tmp_path: Path
) -> None:
    events = simulated(400, seed=901)
    lines = list(write_lines(events))
    lines.insert(10, b"not json at all\n")  # line 11
    lines.insert(200, b'{"type": "teleport", "event_id": "x"}\n')  # line 201
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"".join(lines))

    stats = await replay_file(settings, log)

    assert (stats.lines, stats.invalid) == (402, 2)
    assert [(bad.number, bad.error.reason) for bad in stats.invalid_lines] == [
        (11, LineReason.NOT_JSON),
        (201, LineReason.UNKNOWN_TYPE),
    ]
    assert stats.events_sent == stats.records_sent == 400
    assert sum(stats.by_stream.values()) == 400
    assert stats.by_stream[Stream.IDENTITY] > 0

    mine = {event.event_id: event for event in events}
    arrived = [
        r
        for r in await read_to_end(settings, settings.topics.inbound())
        if payload(r).get("event_id") in mine
    ]
    assert Counter(payload(r)["event_id"] for r in arrived) == Counter(set(mine))
    for record in arrived:
        event = mine[payload(record)["event_id"]]
        assert record.topic == topic_of(event, settings)
        assert record.key == record_key(event)
        assert record.partition == partition_of(record.key, settings.kafka.topic_partitions)
        assert record.value + b"\n" in lines, "the recorded bytes are sent as they are"


async def test_envelopes_group_events_of_one_key_in_order(
    settings: Settings, tmp_path: Path
) -> None:
    events = simulated(300, seed=902)
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"".join(write_lines(events)))

    stats = await replay_file(settings, log, envelope_size=5)

    assert stats.events_sent == 300
    assert stats.invalid == 0
    assert stats.records_sent < 300, "events of one customer were grouped"

    mine = {event.event_id: event for event in events}
    seen: list[str] = []
    by_key: dict[tuple[str, bytes], list[str]] = defaultdict(list)
    for record in await read_to_end(settings, settings.topics.inbound()):
        envelope = payload(record).get("events")
        if not envelope or envelope[0].get("event_id") not in mine:
            continue
        members = [mine[member["event_id"]] for member in envelope]
        assert 1 <= len(members) <= 5
        assert (
            record.value
            == b'{"events":['
            + b",".join(line.rstrip(b"\n") for line in write_lines(members))
            + b"]}"
        )
        for event in members:
            assert record.topic == topic_of(event, settings)
            assert record_key(event) == record.key
            by_key[(record.topic, record.key)].append(event.event_id)
        seen.extend(event.event_id for event in members)
    assert sorted(seen) == sorted(mine), "every event exactly once"
    for (topic, key), ids in by_key.items():
        in_log = [
            event.event_id
            for event in events
            if record_key(event) == key and topic_of(event, settings) == topic
        ]
        assert ids == in_log, "a key's events keep their order on each topic"


async def test_speedup_paces_by_event_time_and_odd_files_still_read_right(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay_module, "READ_BLOCK_BYTES", 97)  # lines straddle blocks
    events = simulated(101, seed=903)  # 50 events/s: 2 s of recorded time
    lines = list(write_lines(events))
    lines.insert(50, b"\n")  # a blank line is reported, not skipped
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"".join(lines).rstrip(b"\n"))  # no line end after the last line

    started = time.monotonic()
    stats = await replay_file(settings, log, speedup=4.0)
    took = time.monotonic() - started

    assert 0.45 < took < 10, "2 s of events at 4x take about 0.5 s"
    assert (stats.lines, stats.events_sent, stats.invalid) == (102, 101, 1)
    assert [(bad.number, bad.error.reason) for bad in stats.invalid_lines] == [
        (51, LineReason.NOT_JSON)
    ]
