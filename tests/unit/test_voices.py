"""Simulated reviews and comments: drawn from each order's experience, truth kept, after
the order, from their own random source (the rest of the world draws what it drew)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import islice

from stream_app.events.purchase import LineItem, Purchase
from stream_app.events.registry import Stream
from stream_app.events.reviews import Comment, Review
from stream_app.simulation.catalog import make_catalog
from stream_app.simulation.generator import EventGenerator
from stream_app.simulation.population import make_population
from stream_app.simulation.voices import Voice, VoiceMix

START = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


def order(n: int) -> Purchase:
    line = LineItem(item_id="sku-1", category="toys", quantity=1, unit_price=10.0)
    return Purchase(
        type="purchase",
        event_id=f"p-{n}",
        event_time=START,
        customer_id=f"c-{n}",
        order_id=f"o-{n}",
        items=[line],
        total=10.0,
        currency="EUR",
    )


def said(voice: Voice, orders: int) -> list[Review | Comment]:
    for n in range(orders):
        voice.ordered(order(n), 0.0)
    out = []
    while (found := voice.due(1e9, START + timedelta(hours=1))) is not None:
        stream, event = found
        assert stream is Stream.REVIEW
        out.append(event)
    return out


def test_late_orders_bring_complaints_and_the_truth_is_kept() -> None:
    always_late = VoiceMix(review_share=1.0, rated_share=1.0, late_share=1.0, chat_share=1.0)
    voice = Voice(random.Random(1), always_late)
    events = said(voice, 50)
    assert {e.source for e in events} >= {"support_chat"}
    low = [e for e in events if isinstance(e, Review) and e.rating is not None and e.rating <= 2]
    assert len(low) > 0.6 * sum(isinstance(e, Review) for e in events)  # stars are noisy
    assert all(voice.truth[e.event_id] <= -0.4 for e in events)
    assert all(e.order_id is not None for e in events)


def test_fine_orders_are_mostly_praised_and_some_reviews_are_unrated() -> None:
    voice = Voice(random.Random(2), VoiceMix(review_share=1.0, rated_share=0.5, late_share=0.0))
    events = said(voice, 200)
    assert all(isinstance(e, Review) for e in events)
    truth = [voice.truth[e.event_id] for e in events]
    assert sum(p > 0 for p in truth) > 0.7 * len(truth)
    unrated = [e for e in events if isinstance(e, Review) and e.rating is None]
    assert 0.3 * len(events) < len(unrated) < 0.7 * len(events)


def test_the_world_says_things_after_orders_and_remembers_what_it_meant() -> None:
    generator = EventGenerator(make_population(40, seed=3), make_catalog(seed=3), 3, START, 20.0)
    stream = list(islice(generator, 3000))
    remarks = [e for s, e in stream if s is Stream.REVIEW]
    assert remarks
    assert {e.event_id for e in remarks} == set(generator.remarks_truth)
    ordered = {e.order_id: e.event_time for s, e in stream if isinstance(e, Purchase)}
    assert all(r.order_id in ordered and r.event_time >= ordered[r.order_id] for r in remarks)
