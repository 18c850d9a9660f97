"""The simulator: deterministic, valid, time-ordered, and behaviourally plausible."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import islice

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_app.events.catalog import ItemUpdate
from stream_app.events.decision import Content, ContentItem, Decision
from stream_app.events.encode import event_dict, record_key
from stream_app.events.feedback import Converted, Opened
from stream_app.events.identity import Consent, Traits
from stream_app.events.purchase import Purchase
from stream_app.events.registry import EVENT_ADAPTERS, Event, Stream
from stream_app.producers import loadgen, producer
from stream_app.settings import Settings
from stream_app.simulation.catalog import make_catalog
from stream_app.simulation.feedback import respond
from stream_app.simulation.generator import EventGenerator
from stream_app.simulation.population import Customer, make_population
from tests.unit.fixtures import FakeKafkaProducer

START = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
CATALOG = make_catalog(seed=7)
POPULATION = make_population(60, seed=7)


def take(
    n: int, *, seed: int = 7, customers: list[Customer] = POPULATION, rate: float = 50.0
) -> list[tuple[Stream, Event]]:
    return list(islice(EventGenerator(customers, CATALOG, seed, START, rate), n))


@pytest.fixture(scope="module")
def stream() -> list[tuple[Stream, Event]]:
    return take(4000)


def test_population_is_deterministic_and_varied() -> None:
    again = make_population(60, seed=7)
    assert again == POPULATION
    assert make_population(60, seed=8) != POPULATION
    assert len({c.timezone for c in POPULATION}) >= 5
    push = sum(c.push_opt_in for c in make_population(1000, seed=1)) / 1000
    assert 0.8 < push < 0.9
    for customer in POPULATION:
        assert customer.customer_id.startswith("cust-")
        assert customer.devices
        assert abs(sum(w for _, w in customer.tastes) - 1) < 1e-9
        assert customer.taste(max(customer.tastes, key=lambda t: t[1])[0]) == 1.0


def test_catalog_is_deterministic() -> None:
    assert make_catalog(seed=7) == CATALOG
    assert make_catalog(seed=8) != CATALOG
    assert {"shoes", "outdoor", "electronics", "grocery"} <= set(CATALOG.categories)
    assert all(item.item_id.startswith("sku-") and item.price_eur > 0 for item in CATALOG.items)


def test_same_seed_same_events_other_seed_other_events(
    stream: list[tuple[Stream, Event]],
) -> None:
    assert take(500) == stream[:500]
    assert take(500, seed=8) != stream[:500]


def test_every_event_round_trips_through_its_stream_adapter(
    stream: list[tuple[Stream, Event]],
) -> None:
    for kind, event in stream:
        assert EVENT_ADAPTERS[kind].validate_python(event_dict(event)) == event


def test_event_times_are_aware_non_decreasing_and_paced(
    stream: list[tuple[Stream, Event]],
) -> None:
    times = [event.event_time for _, event in stream]
    assert all(t.utcoffset() == timedelta(0) for t in times)
    assert times == sorted(times)
    assert times[0] == START
    assert times[-1] == START + timedelta(seconds=(len(stream) - 1) / 50.0)
    assert len({event.event_id for _, event in stream}) == len(stream)


def test_stream_mix(stream: list[tuple[Stream, Event]]) -> None:
    kinds = {kind for kind, _ in stream}
    assert kinds == {
        Stream.CLICKSTREAM,
        Stream.PURCHASE,
        Stream.SENSOR,
        Stream.IDENTITY,
        Stream.CATALOG,
        Stream.REVIEW,
    }
    types = {event.type for _, event in stream}
    assert {"product_view", "add_to_cart", "remove_from_cart", "checkout_start"} <= types
    assert {"location", "proximity", "ambient", "search", "page_view"} <= types


def test_carts_are_often_abandoned_and_often_bought(
    stream: list[tuple[Stream, Event]],
) -> None:
    sessions: dict[str, set[str]] = defaultdict(set)
    for _, event in stream:
        session_id = getattr(event, "session_id", None)
        if session_id is not None:
            sessions[session_id].add(event.type)
    carts = [types for types in sessions.values() if "add_to_cart" in types]
    abandoned = sum("checkout_start" not in types for types in carts) / len(carts)
    assert len(carts) > 100
    assert 0.25 < abandoned < 0.55
    purchases = [event for kind, event in stream if kind is Stream.PURCHASE]
    assert len(purchases) / len(carts) > 0.3
    for purchase in purchases:
        assert isinstance(purchase, Purchase)
        total = sum(line.unit_price * line.quantity for line in purchase.items)
        assert purchase.total == pytest.approx(total, abs=0.01)


def test_identity_precedes_everything_else_of_a_customer(
    stream: list[tuple[Stream, Event]],
) -> None:
    registered: dict[str, set[str]] = {}
    consents: dict[str, set[str]] = defaultdict(set)
    device_only = 0
    for _, event in stream:
        if isinstance(event, Traits):
            assert event.customer_id not in registered
            registered[event.customer_id] = set(event.device_ids)
            continue
        if isinstance(event, ItemUpdate):  # the catalog's, no customer's
            continue
        customer_id = getattr(event, "customer_id", None)
        if customer_id is None:
            device_only += 1
            device = getattr(event, "device_id", None)
            assert any(device in devices for devices in registered.values())
            continue
        assert customer_id in registered
        if isinstance(event, Consent):
            consents[customer_id].add(event.channel)
        elif getattr(event, "session_id", None) is not None:
            assert consents[customer_id] == {"push", "email"}
    assert device_only > 20


def test_rejects_naive_start_and_empty_population() -> None:
    with pytest.raises(ValueError, match="aware"):
        EventGenerator(POPULATION, CATALOG, 1, datetime(2026, 1, 1), 10.0)  # noqa: DTZ001
    with pytest.raises(ValueError, match="customer"):
        EventGenerator([], CATALOG, 1, START, 10.0)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**63),
    size=st.integers(min_value=1, max_value=12),
    rate=st.floats(min_value=0.01, max_value=5000),
)
def test_any_seed_size_and_rate_yields_valid_ordered_events(
    seed: int, size: int, rate: float
) -> None:
    customers = POPULATION[:size]
    events = take(150, seed=seed, customers=customers, rate=rate)
    previous = START
    for kind, event in events:
        assert EVENT_ADAPTERS[kind].validate_python(event_dict(event)) == event
        assert previous <= event.event_time
        previous = event.event_time


# --- feedback -----------------------------------------------------------


def decision_for(customer: Customer, categories: list[str]) -> Decision:
    items = [
        ContentItem(item_id=item.item_id, category=item.category, price=item.price_eur)
        for item in (CATALOG.by_category[category][0] for category in categories)
    ]
    return Decision(
        decision_id=f"dec-{customer.customer_id}",
        customer_id=customer.customer_id,
        campaign_id="cart-abandonment",
        channel="push",
        content=Content(template="cart_reminder", items=items),
        decided_at=START,
        send_at=START,
        expires_at=START + timedelta(hours=12),
        explanation="cart idle",
    )


def first_hour(customer: Customer, *, active: bool) -> datetime:
    for hour in range(24):
        at = START + timedelta(hours=hour)
        if customer.is_active_at(at) == active:
            return at
    raise AssertionError("a customer is active some hours and idle others")


RESPONSIVE = [c for c in make_population(400, seed=3) if c.push_opt_in][:200]


def open_rate(at_active: bool) -> float:
    rng = random.Random(11)
    opened = 0
    for customer in RESPONSIVE:
        decision = decision_for(customer, ["shoes"])
        now = first_hour(customer, active=at_active)
        for _ in range(10):
            kinds = {type(e) for _, e in respond(decision, customer, rng, now)}
            opened += Opened in kinds
    return opened / (10 * len(RESPONSIVE))


def test_messages_in_active_hours_are_opened_more() -> None:
    active, idle = open_rate(True), open_rate(False)
    assert active > 1.5 * idle
    assert 0.1 < idle < active < 0.6


def test_matching_content_is_clicked_more() -> None:
    rng = random.Random(5)
    clicks = {"favourite": 0, "disliked": 0}
    for customer in RESPONSIVE:
        ranked = sorted(customer.tastes, key=lambda t: t[1])
        picks = {"favourite": ranked[-1][0], "disliked": ranked[0][0]}
        now = first_hour(customer, active=True)
        for label, category in picks.items():
            decision = decision_for(customer, [category])
            for _ in range(10):
                kinds = {e.type for _, e in respond(decision, customer, rng, now)}
                clicks[label] += "clicked" in kinds
    assert clicks["favourite"] > 2 * clicks["disliked"]


def test_feedback_is_well_formed_and_ordered() -> None:
    rng = random.Random(1)
    now = START + timedelta(hours=3)
    seen: set[str] = set()
    for customer in RESPONSIVE:
        decision = decision_for(customer, ["shoes", "books"])
        for _ in range(5):
            events = respond(decision, customer, rng, now)
            times = [event.event_time for _, event in events]
            assert times == sorted(times)
            assert all(now < t < now + timedelta(minutes=2) for t in times)
            for kind, event in events:
                assert EVENT_ADAPTERS[kind].validate_python(event_dict(event)) == event
                assert getattr(event, "customer_id", None) == customer.customer_id
                seen.add(event.type)
                if kind is Stream.FEEDBACK:
                    assert getattr(event, "decision_id", None) == decision.decision_id
            if events:
                assert events[0][1].type == "delivered"
            converted = [e for _, e in events if isinstance(e, Converted)]
            purchases = [e for _, e in events if isinstance(e, Purchase)]
            assert len(converted) == len(purchases)
            for conversion, purchase in zip(converted, purchases, strict=True):
                assert conversion.order_id == purchase.order_id
    assert {"delivered", "opened", "clicked", "converted", "dismissed", "purchase"} <= seen


def test_no_feedback_without_consent_or_for_someone_else() -> None:
    opted_out = next(c for c in make_population(400, seed=3) if not c.push_opt_in)
    assert respond(decision_for(opted_out, ["shoes"]), opted_out, random.Random(1), START) == []
    other = RESPONSIVE[0]
    with pytest.raises(ValueError, match="another customer"):
        respond(decision_for(opted_out, ["shoes"]), other, random.Random(1), START)


# --- the edge runner, against a fake producer ------------------------------


async def test_runner_paces_and_keeps_envelopes_per_customer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(producer, "AIOKafkaProducer", FakeKafkaProducer)
    config = Settings()
    progress: list[int] = []
    stats = await loadgen.run_simulation(
        config,
        loadgen.Load(customers=5, rate=400.0, duration=1.05, seed=3, envelope_size=4),
        respond_to_decisions=False,
        on_progress=lambda s: progress.append(s.events_sent),
    )
    sent = FakeKafkaProducer.last.sent
    assert stats.events_sent == 420 == sum(stats.by_stream.values())
    assert stats.records_sent == len(sent) < 420
    assert progress  # a report after the first second
    assert progress[0] <= 420
    streams = config.topics.streams()
    count = 0
    for topic, key, value in sent:
        members = orjson.loads(value)["events"]
        assert 1 <= len(members) <= 4
        for member in members:
            event = EVENT_ADAPTERS[streams[topic]].validate_python(member)
            assert record_key(event) == key
            count += 1
    assert count == 420
