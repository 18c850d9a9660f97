"""Property-based bad input: whatever a producer sends, nothing escapes, everything is judged.

Decoding never raises: every record (and every envelope member) ends up either
an event or a rejection with a reason. Folding never raises on what decoding
lets through, and the profile it builds keeps its invariants: counts never
negative, sums and affinities finite, derived scores in range.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_app.events.deadletter import RejectReason
from stream_app.events.decode import decode_record
from stream_app.events.registry import Stream
from stream_app.profiles.fold import FoldConfig, fold
from stream_app.profiles.ops import DecayAdd, Incr
from tests.oracle.config import OracleConfig
from tests.oracle.recompute import Oracle, Outcome
from tests.unit.fixtures import LIMITS, NOW

FOLD = FoldConfig(pseudonym_secret=b"fuzz-secret", cart_abandon_delay=timedelta(minutes=30))
PROPERTIES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
# Odd but valid text: combining marks, right-to-left, emoji, zero-width and control chars.
odd_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=64)
identifiers = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:\-]{0,20}\Z")
times = st.integers(min_value=-7 * 86_400 + 60, max_value=4 * 60).map(
    lambda s: NOW + timedelta(seconds=s)
)
far_times = st.integers(min_value=-(10**9), max_value=10**9).map(
    lambda s: NOW + timedelta(seconds=s)
)
money = st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)


@st.composite
def valid_events(draw: st.DrawFn) -> tuple[Stream, dict[str, Any]]:
    """A valid event of any stream with drawn ids, times, prices and (odd) names."""
    base = {
        "event_id": draw(identifiers),
        "event_time": draw(times).isoformat(),
        "customer_id": draw(identifiers),
    }
    category = draw(odd_text)
    item = {"item_id": draw(identifiers), "category": category, "price": draw(money)}
    kind = draw(st.sampled_from(["view", "cart", "remove", "search", "purchase", "traits", "near"]))
    if kind == "view":
        return Stream.CLICKSTREAM, base | {"type": "product_view"} | item
    if kind == "cart":
        quantity = draw(st.integers(min_value=1, max_value=99))
        return Stream.CLICKSTREAM, base | {"type": "add_to_cart", "quantity": quantity} | item
    if kind == "remove":
        return Stream.CLICKSTREAM, base | {"type": "remove_from_cart", "item_id": item["item_id"]}
    if kind == "search":
        return Stream.CLICKSTREAM, base | {"type": "search", "query": draw(odd_text)}
    if kind == "purchase":
        lines = [
            {
                "item_id": draw(identifiers),
                "category": draw(odd_text),
                "quantity": draw(st.integers(min_value=1, max_value=20)),
                "unit_price": draw(money),
            }
            for _ in range(draw(st.integers(min_value=1, max_value=4)))
        ]
        total = math.fsum(line["quantity"] * line["unit_price"] for line in lines)
        return Stream.PURCHASE, base | {
            "type": "purchase",
            "order_id": draw(identifiers),
            "items": lines,
            "total": min(total, 1e9),
            "currency": "EUR",
        }
    if kind == "traits":
        return Stream.IDENTITY, base | {"type": "traits", "email": f"{draw(identifiers)}@x.test"}
    distance = draw(st.floats(min_value=0, max_value=100_000))
    return Stream.SENSOR, base | {
        "type": "proximity",
        "store_id": draw(identifiers),
        "distance_m": distance,
    }


def outcomes(stream: Stream, raw: bytes) -> int:
    decoded = decode_record(stream, raw, LIMITS, NOW)
    for rejection in decoded.rejections:
        assert isinstance(rejection.reason, RejectReason)
        assert rejection.detail
    return len(decoded.located) + len(decoded.rejections)


@PROPERTIES
@given(st.sampled_from(list(Stream)), st.binary(max_size=300))
def test_any_bytes_decode_or_are_rejected_with_a_reason(stream: Stream, raw: bytes) -> None:
    assert outcomes(stream, raw) >= 1


@PROPERTIES
@given(st.sampled_from(list(Stream)), json_values)
def test_any_json_value_decodes_or_is_rejected_with_a_reason(stream: Stream, value: Any) -> None:
    assert outcomes(stream, orjson.dumps(value)) >= 1


@PROPERTIES
@given(valid_events())
def test_valid_events_decode_to_exactly_one_event(case: tuple[Stream, dict[str, Any]]) -> None:
    stream, payload = case
    decoded = decode_record(stream, orjson.dumps(payload), LIMITS, NOW)
    assert decoded.rejections == []
    assert len(decoded.events) == 1


@PROPERTIES
@given(valid_events(), st.data())
def test_broken_events_are_rejected_one_reason_each(
    case: tuple[Stream, dict[str, Any]], data: st.DataObject
) -> None:
    stream, payload = case
    how = data.draw(st.sampled_from(["drop", "extra", "retype", "time"]))
    broken = dict(payload)
    field = data.draw(st.sampled_from(sorted(set(payload) - {"type"})))
    if how == "drop" and field != "customer_id":
        del broken[field]
    elif how == "extra":
        broken[data.draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in payload))] = 1
    elif how == "retype":
        broken[field] = data.draw(
            st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=2)
            | st.booleans()
        )
    else:
        at = data.draw(far_times)
        if NOW - LIMITS.max_event_age <= at <= NOW + LIMITS.max_event_future_skew:
            return
        broken["event_time"] = at.isoformat()
    decoded = decode_record(stream, orjson.dumps(broken), LIMITS, NOW)
    if broken == payload or (how == "drop" and field == "customer_id"):
        return
    if how in ("drop", "retype") and not decoded.rejections:
        # An optional field left out, or a value the contract accepts: still one event.
        assert len(decoded.events) == 1
        return
    assert decoded.events == []
    assert len(decoded.rejections) == 1
    expected = {
        "drop": {RejectReason.SCHEMA_VIOLATION},
        "extra": {RejectReason.SCHEMA_VIOLATION},
        "retype": {RejectReason.SCHEMA_VIOLATION, RejectReason.UNKNOWN_EVENT_TYPE},
        "time": {RejectReason.EVENT_TIME_TOO_OLD, RejectReason.EVENT_TIME_IN_FUTURE},
    }[how]
    assert decoded.rejections[0].reason in expected


@PROPERTIES
@given(st.lists(valid_events() | json_values.map(lambda v: (None, v)), min_size=1, max_size=8))
def test_every_envelope_member_is_an_event_or_a_rejection(
    members: list[tuple[Stream | None, Any]],
) -> None:
    raw = orjson.dumps({"events": [payload for _, payload in members]})
    decoded = decode_record(Stream.CLICKSTREAM, raw, LIMITS, NOW)
    positions = sorted(
        [index for index, _, _ in decoded.located] + [r.index for r in decoded.rejections]
    )
    assert positions == list(range(len(members)))


@PROPERTIES
@given(st.lists(valid_events(), min_size=1, max_size=25))
def test_fold_never_raises_and_profiles_keep_their_invariants(
    cases: list[tuple[Stream, dict[str, Any]]],
) -> None:
    oracle = Oracle(OracleConfig(secret=b"fuzz-secret"))
    for stream, payload in cases:
        [event] = decode_record(stream, orjson.dumps(payload), LIMITS, NOW).events
        customer = event.customer_id
        assert customer is not None
        update = fold(event, customer, FOLD)
        for op in update.ops:
            if isinstance(op, Incr):
                assert op.by >= 0, op
            if isinstance(op, DecayAdd):
                assert math.isfinite(op.weight), op
                assert op.weight >= 0, op
        assert oracle.apply(event) in (Outcome.APPLIED, Outcome.DUPLICATE, Outcome.LATE)
    for profile in oracle.profiles(int(NOW.timestamp() * 1000)).values():
        for name, value in profile.fields.items():
            if name == "n" or name.startswith("n:"):
                assert int(str(value)) >= 0, (name, value)
        for value in (*profile.tastes.values(), *profile.rhythm.values()):
            assert math.isfinite(value)
            assert value >= 0
