"""Event log lines: simulated events round-trip, and every bad line gets a reason."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice
from typing import Any

import orjson
import pytest

from stream_app.events.encode import encode
from stream_app.events.eventlog import (
    LineError,
    LineReason,
    parse_line,
    stream_for_type,
    write_lines,
)
from stream_app.events.feedback import Converted, Delivered
from stream_app.events.registry import EVENT_ADAPTERS, Stream
from stream_app.simulation.catalog import make_catalog
from stream_app.simulation.generator import EventGenerator
from stream_app.simulation.population import make_population
from tests.unit.fixtures import event

START = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
SECRET = "s3cr3t-value"


def test_simulated_events_round_trip_through_the_log() -> None:
    generated = list(
        islice(
            EventGenerator(make_population(40, seed=3), make_catalog(seed=3), 3, START, 20.0), 3000
        )
    )
    feedback = [
        Delivered(
            type="delivered", event_id="f1", event_time=START, customer_id="c-1", decision_id="d1"
        ),
        Converted(
            type="converted",
            event_id="f2",
            event_time=START,
            customer_id="c-1",
            decision_id="d1",
            value=12.5,
        ),
    ]
    expected = generated + [(Stream.FEEDBACK, item) for item in feedback]
    lines = list(write_lines(item for _, item in expected))
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    assert [line[:-1] for line in lines] == [encode(item) for _, item in expected]
    parsed = [parse_line(line) for line in lines]
    assert parsed == expected
    assert {stream for stream, _ in expected} == set(Stream), "every stream is exercised"


def test_stream_for_type_covers_every_event_type_of_every_stream() -> None:
    for stream, adapter in EVENT_ADAPTERS.items():
        schema = adapter.json_schema()
        carried = set(schema["discriminator"]["mapping"])
        assert carried
        assert {t for t, s in stream_for_type.items() if s is stream} == carried, stream
    assert set(stream_for_type.values()) == set(Stream)


def line(payload: Any) -> bytes:
    return orjson.dumps(payload)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe garbage", LineReason.NOT_JSON),
        (b"", LineReason.NOT_JSON),
        (b'{"type": "page_view", ', LineReason.NOT_JSON),
        (line({"event_id": "e1", "customer_id": SECRET}), LineReason.MISSING_TYPE),
        (line({"events": [event("page_view", path="/")]}), LineReason.MISSING_TYPE),
        (line(event("teleport")), LineReason.UNKNOWN_TYPE),
        (line(event("page_view", path="/") | {"type": 42}), LineReason.UNKNOWN_TYPE),
        (line(event("page_view", path="/") | {"type": ["page_view"]}), LineReason.UNKNOWN_TYPE),
        (line(event("dead_letter")), LineReason.UNKNOWN_TYPE),
        (line([event("page_view", path="/")]), LineReason.SCHEMA_VIOLATION),
        (line(event("page_view", path=42)), LineReason.SCHEMA_VIOLATION),
        (
            line(event("page_view", path="/", customer_id=f"{SECRET} x")),
            LineReason.SCHEMA_VIOLATION,
        ),
        (line(event("consent", channel="fax", opted_in=True)), LineReason.SCHEMA_VIOLATION),
        (
            line(event("location", lat=1.0, lon=2.0, accuracy_m=3.0) | {"customer_id": None}),
            LineReason.SCHEMA_VIOLATION,
        ),
        (line(event("page_view", path="/") | {"note": SECRET}), LineReason.SCHEMA_VIOLATION),
    ],
)
def test_bad_lines_get_a_reason_and_never_echo_values(raw: bytes, reason: LineReason) -> None:
    error = parse_line(raw)
    assert isinstance(error, LineError)
    assert error.reason is reason
    assert error.detail
    assert SECRET not in error.detail


def test_schema_violation_names_the_field() -> None:
    error = parse_line(line(event("page_view", path=42)))
    assert isinstance(error, LineError)
    assert error.detail == "page_view.path: Input should be a valid string"
