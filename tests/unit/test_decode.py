from __future__ import annotations

from datetime import timedelta

import orjson
import pytest

from bench.contracts import CORPUS_NOW, Sample, load_corpus
from stream_app.events.clickstream import AddToCart
from stream_app.events.deadletter import RejectReason
from stream_app.events.decode import Decoder, decode_record
from stream_app.events.registry import Stream
from stream_app.settings import WorkerSettings
from tests.unit.fixtures import LIMITS, NOW, event, purchase

CART = event("add_to_cart", item_id="sku-1", category="shoes", price=10.0)


def reasons(stream: Stream, raw: bytes) -> list[RejectReason]:
    return [r.reason for r in decode_record(stream, raw, LIMITS, NOW).rejections]


def test_single_event_decodes_to_its_model() -> None:
    decoded = decode_record(Stream.CLICKSTREAM, orjson.dumps(CART), LIMITS, NOW)
    assert decoded.rejections == []
    assert isinstance(decoded.events[0], AddToCart)
    assert decoded.events[0].event_time == NOW


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x00\xffnot json", RejectReason.UNDECODABLE),
        (b"[1, 2]", RejectReason.INVALID_SHAPE),
        (b"x" * 70_000, RejectReason.OVERSIZED),
        (orjson.dumps({"events": []}), RejectReason.INVALID_SHAPE),
        (orjson.dumps({"events": [CART] * 51}), RejectReason.ENVELOPE_TOO_LARGE),
        (orjson.dumps(event("teleport")), RejectReason.UNKNOWN_EVENT_TYPE),
        (
            orjson.dumps({k: v for k, v in CART.items() if k != "type"}),
            RejectReason.MISSING_EVENT_TYPE,
        ),
        (orjson.dumps(CART | {"price": "cheap"}), RejectReason.SCHEMA_VIOLATION),
        (orjson.dumps(CART | {"extra": 1}), RejectReason.SCHEMA_VIOLATION),
        (orjson.dumps(CART | {"event_time": "2026-06-01T12:00:00"}), RejectReason.SCHEMA_VIOLATION),
        (orjson.dumps(CART | {"customer_id": "ann@example.com"}), RejectReason.SCHEMA_VIOLATION),
        (
            orjson.dumps(event("app_open", at=NOW - timedelta(days=8))),
            RejectReason.EVENT_TIME_TOO_OLD,
        ),
        (
            orjson.dumps(event("app_open", at=NOW + timedelta(hours=1))),
            RejectReason.EVENT_TIME_IN_FUTURE,
        ),
    ],
)
def test_bad_records_are_rejected_with_a_reason(raw: bytes, reason: RejectReason) -> None:
    assert reasons(Stream.CLICKSTREAM, raw) == [reason]


def test_event_of_another_topic_is_unknown_here() -> None:
    order = purchase("s", "c", 1.0)
    assert reasons(Stream.PURCHASE, orjson.dumps(order)) == []
    assert reasons(Stream.CLICKSTREAM, orjson.dumps(order)) == [RejectReason.UNKNOWN_EVENT_TYPE]


def test_one_bad_member_does_not_sink_its_envelope() -> None:
    members = [CART, {"type": "add_to_cart"}, event("app_open", event_id="e-2")]
    decoded = decode_record(Stream.CLICKSTREAM, orjson.dumps({"events": members}), LIMITS, NOW)
    assert [e.event_id for e in decoded.events] == ["e-add_to_cart", "e-2"]
    assert [(r.reason, r.index) for r in decoded.rejections] == [(RejectReason.SCHEMA_VIOLATION, 1)]


def test_rejection_detail_never_echoes_input_values() -> None:
    traits = event("traits", email="secret.person@example.com", timezone="Mars/Olympus")
    [rejection] = decode_record(Stream.IDENTITY, orjson.dumps(traits), LIMITS, NOW).rejections
    assert "secret.person" not in rejection.detail
    assert "Mars" not in rejection.detail
    assert "timezone" in rejection.detail


def test_sensor_event_needs_customer_or_device() -> None:
    reading = event("ambient", customer_id="c-1", temperature_c=21.5, weather="rain")
    assert reasons(Stream.SENSOR, orjson.dumps(reading)) == []
    anonymous = {k: v for k, v in reading.items() if k != "customer_id"}
    assert reasons(Stream.SENSOR, orjson.dumps(anonymous)) == [RejectReason.SCHEMA_VIOLATION]
    device_only = anonymous | {"device_id": "dev-9"}
    assert reasons(Stream.SENSOR, orjson.dumps(device_only)) == []


@pytest.mark.parametrize("sample", load_corpus(), ids=lambda s: s.name)
def test_whole_envelope_path_agrees_with_event_by_event(sample: Sample) -> None:
    """A compact envelope is validated whole first; a leading space (valid JSON) takes
    the general path: both give the same events and the same rejections."""
    raw = orjson.dumps(sample.record)
    limits = WorkerSettings().decode_limits()
    whole = decode_record(sample.stream, raw, limits, CORPUS_NOW)
    general = decode_record(sample.stream, b" " + raw, limits, CORPUS_NOW)
    assert whole == general


def test_nan_in_an_envelope_is_not_json() -> None:
    """pydantic's JSON parser takes NaN, orjson (and JSON) does not: such an envelope is
    refused as undecodable, whichever path it could take."""
    raw = orjson.dumps({"events": [CART]}).replace(b'"price":10.0', b'"price":NaN')
    assert b"NaN" in raw
    assert reasons(Stream.CLICKSTREAM, raw) == [RejectReason.UNDECODABLE]


def test_a_valid_compact_envelope_is_validated_whole() -> None:
    raw = orjson.dumps({"events": [CART, {**CART, "event_id": "e2"}]})
    whole = Decoder(LIMITS, NOW)._whole(Stream.CLICKSTREAM, raw)
    assert whole is not None
    assert [i for i, _, _ in whole.located] == [0, 1]
