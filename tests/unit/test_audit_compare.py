"""``stream-app audit``'s comparison (``profiles.recompute``) and the pass's checks
(``streaming.audit``): what differs is found field by field, whatever the field."""

from __future__ import annotations

import copy
import logging
from collections import Counter
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from stream_app.clock import from_ms
from stream_app.counts import Labelled, Plain
from stream_app.metrics.engine import EngineMetrics
from stream_app.profiles.recompute import Recomputed, Skip, compare, count_fields, skip_reason
from stream_app.profiles.state import ProfileState
from stream_app.segments.rules import SegmentRules
from stream_app.storage.audit import document
from stream_app.storage.customers import Loaded
from stream_app.streaming.audit import Auditor
from stream_app.streaming.effects import Passed
from tests.unit.test_invariants import FOLD, LIMITS, around, rich, simulated_log


def recomputed() -> Recomputed:
    again = Recomputed(LIMITS, FOLD, lambda cid: True)
    for event in simulated_log():
        again.add(event)
    return again


def test_the_fold_again_gives_the_same_documents() -> None:
    again = recomputed()
    assert again.events > 1000
    for state in again.states.values():
        assert (
            compare(state.customer_id, document(state), document(copy.deepcopy(state)), LIMITS)
            == []
        )


@pytest.mark.parametrize(
    ("part", "corrupt", "field"),
    [
        ("a count", lambda d: d["f"].update({"n": d["f"]["n"] + 1}), "n"),
        (
            "a sum",
            lambda d: d["f"].update({"spend:EUR": d["f"].get("spend:EUR", 0) + 1}),
            "spend:EUR",
        ),
        ("a deleted field", lambda d: d["f"].pop("first_seen"), "first_seen"),
        ("a new field", lambda d: d["f"].update({"sentiment": 0.5}), "sentiment"),
        ("a rhythm hour", lambda d: d["r"][1].update({"0": d["r"][1].get("0", 0) + 1}), "rhythm.0"),
        ("a taste", lambda d: d["t"][1].update({"c:none": 1.0}), "tastes.c:none"),
        ("a ledger entry", lambda d: d["o"].update({"o-9": [1, 0, 0]}), "orders.o-9"),
        ("a new part", lambda d: d.update({"x": {"k": 1}}), "x.k"),
    ],
)
def test_each_difference_is_named(part: str, corrupt: object, field: str) -> None:
    state = rich()
    stored = document(state)
    corrupt(stored)  # type: ignore[operator]
    found = compare(state.customer_id, document(state), stored, LIMITS)
    assert [m.field for m in found] == [field], part


def test_a_cart_line_differs_by_member() -> None:
    state = rich()
    stored = document(state)
    item = next(iter(stored["c"]))
    stored["c"][item][3] += 1
    assert [m.field for m in compare("c", document(state), stored, LIMITS)] == [f"cart.{item}"]
    assert count_fields(compare("c", document(state), stored, LIMITS)) == Counter({"cart": 1})


def test_what_cannot_be_recomputed_is_skipped() -> None:
    state = rich()
    assert skip_reason(state, None, False) is Skip.ABSENT
    assert skip_reason(state, state, True) is Skip.ERASED
    older = copy.deepcopy(state)
    older.fields["first_seen"] = int(state.fields["first_seen"]) - 1
    assert skip_reason(state, older, False) is Skip.BEYOND_RETENTION
    assert skip_reason(state, state, False) is None


def _auditor(rate: float) -> Auditor:
    return Auditor(
        sample_rate=rate,
        future_skew_ms=300_000,
        limits=LIMITS,
        segment_rules=SegmentRules([]),
        secret=b"k",
    )


def test_the_pass_counts_a_sampled_customers_violations_under_a_reference(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = rich()
    state.fields["n"] = int(state.fields["n"]) + 1
    auditor = _auditor(1.0)
    passed = Passed(Loaded(state))
    now = around().now_ms

    with caplog.at_level(logging.WARNING):
        assert auditor.check(passed, from_ms(now)) == ["event_total"]
        auditor.check(passed, from_ms(now))  # written again after a conflict: counted once
    assert passed.counters == Counter(
        {Plain("audit_checked"): 1, Labelled("audit_mismatches", "event_total"): 1}
    )
    assert "cref-" in caplog.text
    assert state.customer_id not in caplog.text
    metrics = EngineMetrics(CollectorRegistry())
    metrics.count(passed.counters)
    assert (
        metrics.registry.get_sample_value(
            "stream_app_audit_mismatches_total", {"check": "event_total"}
        )
        == 1.0
    )
    assert metrics.registry.get_sample_value("stream_app_audit_checked_total") == 1.0


def test_customers_outside_the_sample_are_not_checked() -> None:
    auditor = _auditor(0.0)
    passed = Passed(Loaded(ProfileState("c", {"n": -1})))
    assert auditor.check(passed, from_ms(0)) == []
    assert not passed.counters


def test_readings_naming_only_a_device_are_their_registrants() -> None:
    log = simulated_log()
    readings = [
        e for e in log if getattr(e, "customer_id", 1) is None and getattr(e, "device_id", None)
    ]
    assert readings
    again = recomputed()
    applied = sum(
        int(s.fields.get(f"n:{e}", 0))
        for s in again.states.values()
        for e in ("location", "proximity", "ambient")
    )
    named = sum(
        1
        for e in log
        if e.type in ("location", "proximity", "ambient") and getattr(e, "customer_id", None)
    )
    assert applied > named


def test_cart_lines_a_purchase_hid_are_not_compared() -> None:
    expected: dict[str, Any] = {"f": {"last:purchase": 100}, "c": {}}
    stored: dict[str, Any] = {"f": {"last:purchase": 100}, "c": {"i": [50, "x", 1.0, 1, "e", 0]}}
    assert compare("c", expected, stored, LIMITS) == []
    expected["c"]["k"] = [150, "x", 1.0, 1, "e", 0]
    stored["c"]["k"] = [150, "x", 1.0, 1, "e", 90]  # a removal the purchase made moot
    assert compare("c", expected, stored, LIMITS) == []
    stored["c"]["j"] = [150, "x", 1.0, 1, "e", 0]
    assert [m.field for m in compare("c", expected, stored, LIMITS)] == ["cart.j"]
