"""Late events: valid input beyond the allowed lateness is routed, with why, to a topic of
its own, never to the dead-letter topic."""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

import orjson

from stream_app.clock import to_ms
from stream_app.events.deadletter import RejectReason
from stream_app.events.encode import encode
from stream_app.events.late import LateEvent
from stream_app.events.topics import Stream, TopicNames
from stream_app.profiles.fold import FoldConfig
from stream_app.storage.layout import Keys, event_key
from stream_app.streaming.batch import BatchConfig, decode_batch
from tests.unit.fixtures import LIMITS, NOW, event


class Record(NamedTuple):
    topic: str
    partition: int
    offset: int
    value: bytes | None


ORDER = event(
    "purchase",
    at=NOW - timedelta(days=3),
    order_id="o-1",
    total=10.0,
    currency="EUR",
    items=[{"item_id": "sku-1", "category": "shoes", "quantity": 1, "unit_price": 10.0}],
)


def test_the_late_record_carries_the_event_its_source_and_why() -> None:
    topics = TopicNames()
    config = BatchConfig(topics.streams(), LIMITS, FoldConfig(b"secret", None), 1000, 60_000, 10)
    record = Record(topics.purchase, 2, 41, orjson.dumps(ORDER))
    batch = decode_batch([record], config, NOW)
    [update] = batch.updates["c-1"]
    located = batch.origin[id(update)]
    assert located.stream is Stream.PURCHASE
    assert update.lifelong, "an order's id is kept as long as the profile"
    assert batch.keys[id(update)] == event_key("e-purchase")

    late = batch.late(located, "c-1", to_ms(NOW), 86_400_000)
    wire = LateEvent.model_validate_json(encode(late))
    assert wire == late
    assert (wire.customer_id, wire.stream, wire.reason) == (
        "c-1",
        Stream.PURCHASE,
        "beyond_allowed_lateness",
    )
    assert wire.event["order_id"] == "o-1"
    assert wire.event["event_id"] == "e-purchase"
    assert (wire.source_topic, wire.source_partition, wire.source_offset, wire.index) == (
        topics.purchase,
        2,
        41,
        None,
    )
    assert wire.newest_event_time == NOW
    assert wire.allowed_lateness_ms == 86_400_000
    assert batch.dead == []


def test_only_orders_ids_outlive_the_window() -> None:
    topics = TopicNames()
    config = BatchConfig(topics.streams(), LIMITS, FoldConfig(b"secret", None), 1000, 60_000, 10)
    view = event("page_view", path="/")
    batch = decode_batch([Record(topics.clickstream, 0, 0, orjson.dumps(view))], config, NOW)
    [update] = batch.updates["c-1"]
    assert not update.lifelong


def test_a_return_is_indexed_by_its_return_id_for_the_profile_s_life() -> None:
    topics = TopicNames()
    config = BatchConfig(topics.streams(), LIMITS, FoldConfig(b"secret", None), 1000, 60_000, 10)
    credit = event("return", return_id="cn-1", order_id="o-1", amount=10.0, currency="EUR")
    again = credit | {"event_id": "e-other"}
    records = [
        Record(topics.purchase, 0, i, orjson.dumps(e)) for i, e in enumerate((credit, again))
    ]
    batch = decode_batch(records, config, NOW)
    first, second = batch.updates["c-1"]
    assert first.lifelong
    assert second.lifelong
    assert batch.keys[id(first)] == batch.keys[id(second)] == event_key("return/cn-1")


def test_late_has_its_own_topic_and_is_no_dead_letter_reason() -> None:
    topics = TopicNames()
    assert topics.late == "events.late"
    assert topics.late in topics.all()
    assert topics.late not in topics.inbound()
    assert "late_event" not in {reason.value for reason in RejectReason}


def test_order_ids_have_an_index_of_their_own_in_the_customers_slot() -> None:
    keys = Keys("sa")
    assert keys.orders("c-1") == "sa:{c-1}:orders"
    assert keys.orders("c-1").startswith("sa:{c-1}:")
