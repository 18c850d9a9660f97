"""Sentiment in the profile: remarks folded with their polarity, a decayed mean, bounded
complaints, the same whatever the order of arrival or redelivery, merged and stored."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from stream_app.clock import to_ms
from stream_app.events.registry import EVENT_ADAPTERS, Stream
from stream_app.profiles.derive import ValueRules, derive
from stream_app.profiles.fold import FoldConfig, fold
from stream_app.profiles.merge import merge
from stream_app.profiles.mood import NEGATIVE_FIELD
from stream_app.profiles.state import ProfileState, StateLimits, apply_updates
from stream_app.segments.rules import SegmentDefinition, SegmentRules
from stream_app.storage.profiles import decode_state, encode_state
from tests.unit.fixtures import NOW, event

DAY_MS = 86_400_000
LIMITS = StateLimits(DAY_MS * 30, 7 * DAY_MS, 28 * DAY_MS, 3, 2, complaints_kept=3)
CONFIG = FoldConfig(b"k", None, negative_below=-0.3)
T0 = to_ms(NOW)


def remark(event_id: str, days_ago: float, **fields: Any) -> Any:
    kind = "review" if "rating" in fields else "comment"
    raw = event(
        kind,
        at=NOW - timedelta(days=days_ago),
        event_id=event_id,
        customer_id="c-1",
        text="late again",
        **fields,
    )
    return EVENT_ADAPTERS[Stream.REVIEW].validate_python(raw)


def folded(polarities: list[tuple[str, float, float]]) -> list[Any]:
    """(event id, days ago, polarity) -> updates."""
    return [
        fold(remark(eid, ago, source="support_chat", order_id=f"o-{eid}"), "c-1", CONFIG, None, p)
        for eid, ago, p in polarities
    ]


def state_of(updates: list[Any]) -> ProfileState:
    state = ProfileState("c-1")
    apply_updates(state, updates, set(), LIMITS, T0)
    return state


REMARKS = [("a", 20, 0.8), ("b", 6, -0.9), ("c", 3, 0.5), ("d", 2, -0.5), ("e", 1, -0.6)]


def test_a_decayed_mean_weighs_recent_remarks_more() -> None:
    view = derive(state_of(folded(REMARKS)), NOW, ValueRules())
    half = 14.0  # the default half-life, in days
    weights = [2 ** (-ago / half) for _, ago, _ in REMARKS]
    expected = sum(w * p for w, (_, _, p) in zip(weights, REMARKS, strict=True)) / sum(weights)
    assert view.sentiment is not None
    assert abs(view.sentiment - expected) < 1e-9


def test_complaints_keep_the_newest_few_without_text() -> None:
    view = derive(state_of(folded(REMARKS)), NOW, ValueRules())
    assert [c.about for c in view.complaints] == ["order:o-e", "order:o-d", "order:o-b"]
    assert view.last_negative_at is not None
    assert to_ms(view.last_negative_at) == T0 - DAY_MS
    summary = view.as_dict()
    assert summary["complaints"][0]["source"] == "support_chat"
    assert "late again" not in str(summary)
    assert b"late again" not in encode_state(state_of(folded(REMARKS)), 1)


def test_order_of_arrival_and_redelivery_change_nothing() -> None:
    updates = folded(REMARKS)
    reference = state_of(updates)
    expected = derive(reference, NOW, ValueRules()).sentiment
    assert expected is not None
    for seed in range(5):
        shuffled = updates + updates[:2]  # two redelivered
        random.Random(seed).shuffle(shuffled)
        state = state_of(shuffled)
        found = derive(state, NOW, ValueRules()).sentiment
        assert found is not None
        assert abs(found - expected) < 1e-9
        assert state.complaints == reference.complaints
        assert state.fields == reference.fields


def test_merging_two_profiles_is_folding_their_remarks_together() -> None:
    updates = folded(REMARKS)
    one, two = state_of(updates[:2]), state_of(updates[2:])
    merged = merge(one, two, LIMITS)
    whole = state_of(updates)
    assert merged.complaints == whole.complaints
    assert merged.fields[NEGATIVE_FIELD] == whole.fields[NEGATIVE_FIELD]
    a, b = derive(merged, NOW, ValueRules()).sentiment, derive(whole, NOW, ValueRules()).sentiment
    assert a is not None
    assert b is not None
    assert abs(a - b) < 1e-9


def test_stored_and_read_back_unchanged_and_absent_until_a_remark() -> None:
    state = state_of(folded(REMARKS))
    back = decode_state("c-1", encode_state(state, 4))
    assert back.sentiment == state.sentiment
    assert back.complaints == state.complaints
    assert b'"m"' not in encode_state(ProfileState("c-2", {"n": 1}), 1)


def test_an_unscored_remark_is_counted_but_leaves_sentiment_alone() -> None:
    update = fold(remark("x", 1, language="de"), "c-1", CONFIG)
    state = state_of([update])
    assert state.fields["n:comment"] == 1
    assert derive(state, NOW, ValueRules()).sentiment is None


def test_segments_read_sentiment_and_complaints() -> None:
    rules = SegmentRules(
        [
            SegmentDefinition(name="unhappy", expression="sentiment < -0.3"),
            SegmentDefinition(name="complained", expression="complaints >= 2"),
        ]
    )
    members, _ = rules.evaluate(derive(state_of(folded(REMARKS[1:])), NOW, ValueRules()))
    assert members == {"unhappy", "complained"}
    members, _ = rules.evaluate(derive(ProfileState("c-2", {"n": 1}), NOW, ValueRules()))
    assert members == set()
