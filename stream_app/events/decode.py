"""Turn one Kafka record's bytes into events, or into reasons for rejecting them.

Pure: no I/O, the clock is a parameter. A record holds one event object or an
envelope ``{"events": [...]}``; each envelope member is judged on its own, so
one bad event never sinks its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from pydantic import ValidationError

from stream_app.clock import to_ms
from stream_app.events.deadletter import RejectReason
from stream_app.events.limits import DecodeLimits, over_limit
from stream_app.events.registry import ENVELOPE_ADAPTERS, EVENT_ADAPTERS, Event, Stream

#: How a producer's envelope starts: such a record is first validated whole, from its
#: JSON, in one call (``Decoder._whole``).
_ENVELOPE_START = b'{"events":['
#: Literals pydantic's JSON parser takes and orjson refuses (as JSON does): a record
#: holding them takes the general path, which says why it is refused.
_NOT_JSON = (b"NaN", b"Infinity")


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why (part of) a record was refused; ``index`` is the envelope position, if any."""

    reason: RejectReason
    detail: str
    index: int | None = None


class Decoded(NamedTuple):
    """The good events of a record, each with its envelope position and its event time
    in epoch ms (read once: comparing aware datetimes costs microseconds), and the
    rejections."""

    located: list[tuple[int | None, Event, int]]
    rejections: list[Rejection]

    @property
    def events(self) -> list[Event]:
        return [event for _, event, _ in self.located]


def decode_record(stream: Stream, raw: bytes, limits: DecodeLimits, now: datetime) -> Decoded:
    """Decode and validate one record.

    >>> from datetime import UTC, datetime, timedelta
    >>> lim = DecodeLimits(1024, 10, timedelta(days=1), timedelta(minutes=5), 50, 100)
    >>> now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    >>> ev = b'{"type":"app_open","event_id":"e1","customer_id":"c1",'
    >>> ev += b'"event_time":"2026-01-01T11:59:00Z"}'
    >>> d = decode_record(Stream.CLICKSTREAM, ev, lim, now)
    >>> (len(d.events), d.rejections)
    (1, [])
    >>> decode_record(Stream.CLICKSTREAM, b"\\xff", lim, now).rejections[0].reason.value
    'undecodable'
    """
    return Decoder(limits, now).decode(stream, raw)


class Decoder:
    """Decodes the records of one batch (the time window is computed once per batch)."""

    def __init__(self, limits: DecodeLimits, now: datetime) -> None:
        self._limits = limits
        self._oldest_ms = to_ms(now - limits.max_event_age)
        self._newest_ms = to_ms(now + limits.max_event_future_skew)
        self._validators = {stream: EVENT_ADAPTERS[stream].validator for stream in Stream}
        self._envelopes = {stream: ENVELOPE_ADAPTERS[stream].validator for stream in Stream}

    def decode(self, stream: Stream, raw: bytes) -> Decoded:
        """The events of one record, each with its envelope position, and what was refused."""
        limits = self._limits
        if len(raw) > limits.max_record_bytes:
            return _reject(RejectReason.OVERSIZED, f"{len(raw)} bytes > {limits.max_record_bytes}")
        if raw.startswith(_ENVELOPE_START) and not any(lit in raw for lit in _NOT_JSON):
            whole = self._whole(stream, raw)
            if whole is not None:
                return whole
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _reject(RejectReason.UNDECODABLE, f"not JSON: {exc.msg}")
        if not isinstance(payload, dict):
            return _reject(RejectReason.INVALID_SHAPE, "a record is a JSON object")
        validator = self._validators[stream]
        if "events" not in payload or "type" in payload:  # one event: the common case
            outcome = self._validate(validator, payload)
            if isinstance(outcome[0], RejectReason):
                return Decoded([], [Rejection(outcome[0], outcome[1])])
            return Decoded([(None, outcome[0], outcome[1])], [])
        members = payload["events"]
        if len(payload) != 1 or not isinstance(members, list) or not members:
            return _reject(RejectReason.INVALID_SHAPE, "an envelope is {'events': [non-empty]}")
        if len(members) > limits.max_events_per_record:
            return _reject(
                RejectReason.ENVELOPE_TOO_LARGE,
                f"{len(members)} events > {limits.max_events_per_record}",
            )
        located: list[tuple[int | None, Event, int]] = []
        rejections: list[Rejection] = []
        for index, member in enumerate(members):
            outcome = self._validate(validator, member)
            if isinstance(outcome[0], RejectReason):
                rejections.append(Rejection(outcome[0], outcome[1], index))
            else:
                located.append((index, outcome[0], outcome[1]))
        return Decoded(located, rejections)

    def _whole(self, stream: Stream, raw: bytes) -> Decoded | None:
        """An envelope whose every event is valid and within bounds, validated in one call
        from its JSON (a fifth of the cost of parsing it, then each event); None when
        anything is amiss: the general path then judges each event and says why."""
        try:
            events = self._envelopes[stream].validate_json(raw).events
        except ValidationError:
            return None
        if len(events) > self._limits.max_events_per_record:
            return None
        located: list[tuple[int | None, Event, int]] = []
        for index, event in enumerate(events):
            outcome = self._bounded(event)
            if isinstance(outcome[0], RejectReason):
                return None
            located.append((index, event, outcome[1]))
        return Decoded(located, [])

    def _validate(
        self, validator: Any, member: Any
    ) -> tuple[Event, int] | tuple[RejectReason, str]:
        """The event and its time (ms), or why not."""
        if not isinstance(member, dict):
            return RejectReason.INVALID_SHAPE, "an event is a JSON object"
        try:
            event: Event = validator.validate_python(member)
        except ValidationError as exc:
            return _classify(exc)
        return self._bounded(event)

    def _bounded(self, event: Event) -> tuple[Event, int] | tuple[RejectReason, str]:
        """A schema-valid event and its time (ms), or which bound it breaks."""
        beyond = over_limit(event, self._limits)
        if beyond is not None:
            return RejectReason.SCHEMA_VIOLATION, beyond
        ms = to_ms(event.event_time)
        if ms < self._oldest_ms:
            return RejectReason.EVENT_TIME_TOO_OLD, f"older than {self._limits.max_event_age}"
        if ms > self._newest_ms:
            return (
                RejectReason.EVENT_TIME_IN_FUTURE,
                f"more than {self._limits.max_event_future_skew} ahead",
            )
        return event, ms


def _reject(reason: RejectReason, detail: str) -> Decoded:
    return Decoded([], [Rejection(reason, detail)])


def _classify(exc: ValidationError) -> tuple[RejectReason, str]:
    """Map a pydantic error to a reason; the detail never echoes input values (PII)."""
    errors = exc.errors(include_input=False, include_url=False, include_context=False)
    kinds = {err["type"] for err in errors}
    if "union_tag_not_found" in kinds:
        return RejectReason.MISSING_EVENT_TYPE, "field 'type' is missing"
    if "union_tag_invalid" in kinds:
        return RejectReason.UNKNOWN_EVENT_TYPE, "event type not carried by this topic"
    detail = "; ".join(
        f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in errors[:5]
    )
    return RejectReason.SCHEMA_VIOLATION, detail
