"""Backfill's pure parts: records marked by their header are decoded as history (no age
limit, counted), apart from the live ones; the pass's clock is their event time, and
their lateness is judged against the customer's id floor."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import NamedTuple

import orjson

from stream_app.clock import to_ms
from stream_app.counts import Labelled, Plain
from stream_app.events.backfill import BACKFILL_HEADERS, MODE_HEADER
from stream_app.events.topics import TopicNames
from stream_app.profiles.fold import FoldConfig
from stream_app.profiles.state import ProfileState
from stream_app.storage.customers import Loaded
from stream_app.streaming.batch import Batch, BatchConfig, decode_batches
from stream_app.streaming.effects import IDS_FLOOR
from stream_app.streaming.evaluate import _clock_ms
from stream_app.streaming.rounds import Round
from tests.unit.fixtures import LIMITS, NOW, evaluator, event

TOPICS = TopicNames()
CONFIG = BatchConfig(TOPICS.streams(), LIMITS, FoldConfig(b"secret", None), 1000, 60_000, 10)


class Record(NamedTuple):
    topic: str
    partition: int
    offset: int
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


class Bare(NamedTuple):
    """A record type without headers (as some tests' are): live."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


def view(days_ago: float, n: int, customer: str = "c-1") -> bytes:
    at = NOW - timedelta(days=days_ago)
    return orjson.dumps(
        event(
            "product_view",
            at=at,
            event_id=f"e-{customer}-{n}",
            customer_id=customer,
            item_id="sku-1",
            category="shoes",
            price=10.0,
        )
    )


def test_history_is_decoded_apart_whatever_its_age_and_counted() -> None:
    old = Record(TOPICS.clickstream, 0, 1, view(300, 1), BACKFILL_HEADERS)
    older = Record(TOPICS.clickstream, 0, 2, view(365, 2), BACKFILL_HEADERS)
    live_old = Record(TOPICS.clickstream, 0, 3, view(300, 3), ((MODE_HEADER, b"live"),))
    live = Bare(TOPICS.clickstream, 0, 4, view(0, 4))
    [(history, is_history), (current, is_live)] = decode_batches(
        [old, live_old, older, live], CONFIG, NOW
    )
    assert (is_history, is_live) == (True, False)
    assert [u.event_id for u in history.updates["c-1"]] == ["e-c-1-1", "e-c-1-2"]
    assert history.dead == []
    assert history.counters[Plain("events_backfilled")] == 2
    # The same age without the mark is beyond the age limit: a dead letter, as before.
    assert [u.event_id for u in current.updates["c-1"]] == ["e-c-1-4"]
    assert current.counters[Labelled("dead_letters", "event_time_too_old")] == 1
    assert Plain("events_backfilled") not in current.counters


def test_a_batch_without_history_is_one_live_batch_even_empty() -> None:
    [(batch, is_history)] = decode_batches([], CONFIG, NOW)
    assert not is_history
    assert batch.updates == {}
    [(only, is_history)] = decode_batches(
        [Record(TOPICS.clickstream, 0, 1, view(2, 1), BACKFILL_HEADERS)], CONFIG, NOW
    )
    assert is_history
    assert len(only.updates["c-1"]) == 1


def test_history_runs_on_the_clock_of_its_newest_event() -> None:
    [(history, _)] = decode_batches(
        [
            Record(TOPICS.clickstream, 0, 1, view(200, 1), BACKFILL_HEADERS),
            Record(TOPICS.clickstream, 0, 2, view(100, 2), BACKFILL_HEADERS),
        ],
        CONFIG,
        NOW,
    )
    updates = history.updates["c-1"]
    assert _clock_ms(Round(history, NOW, backfill=True), updates) == to_ms(
        NOW - timedelta(days=100)
    )
    assert _clock_ms(Round(history, NOW), updates) == to_ms(NOW)
    assert _clock_ms(Round(Batch(NOW, 0), NOW, backfill=True), []) == to_ms(NOW)


def history_of(days_ago: Sequence[float]) -> Batch:
    records = [
        Record(TOPICS.clickstream, 0, n, view(days, n), BACKFILL_HEADERS)
        for n, days in enumerate(days_ago)
    ]
    [(batch, _)] = decode_batches(records, CONFIG, NOW)
    return batch


def test_history_of_a_customer_known_only_from_history_is_never_late() -> None:
    """A year-old view read after a newer one is applied (every id is kept: floor 0),
    and the floor is stored for the write; redelivered, both are duplicates."""
    rules = evaluator()
    first = history_of([10])
    loaded = Loaded(ProfileState("c-1", {}))
    rules.events(Round(first, NOW, backfill=True), loaded)
    assert loaded.state.fields[IDS_FLOOR] == 0
    older = history_of([365])  # the same customer, a year earlier, another batch
    passed = rules.events(Round(older, NOW, backfill=True), loaded)
    assert passed.counters[Plain("events_applied")] == 1
    assert passed.late == []
    assert passed.loaded.state.fields["n"] == 2


def test_history_behind_a_live_write_is_late_as_live_events_are() -> None:
    """A live pass drops the floor (its write trims the index to the allowed lateness):
    history more than that behind the newest event is late then, an order never."""
    rules = evaluator()
    loaded = Loaded(ProfileState("c-1", {}))
    rules.events(Round(history_of([10]), NOW, backfill=True), loaded)
    [(live, _)] = decode_batches([Bare(TOPICS.clickstream, 0, 9, view(0, 9))], CONFIG, NOW)
    rules.events(Round(live, NOW), loaded)
    assert IDS_FLOOR not in loaded.state.fields
    passed = rules.events(Round(history_of([5]), NOW, backfill=True), loaded)
    assert passed.counters[Labelled("events_late", "clickstream")] == 1
    assert loaded.state.fields[IDS_FLOOR] == to_ms(NOW) - rules.limits.allowed_lateness_ms
