from __future__ import annotations

from datetime import timedelta

from stream_app.clock import to_ms
from stream_app.events.registry import EVENT_ADAPTERS, Stream
from stream_app.profiles.fold import FoldConfig, fold
from stream_app.profiles.ops import CartAdd, CartClear, CartRemove, Incr, LastWrite, Touch
from stream_app.profiles.pseudonym import pseudonymize
from tests.unit.fixtures import NOW, event, purchase

CONFIG = FoldConfig(pseudonym_secret=b"test-secret", cart_abandon_delay=timedelta(minutes=30))


def folded(stream: Stream, raw: dict[str, object], customer: str = "c-1"):  # type: ignore[no-untyped-def]
    return fold(EVENT_ADAPTERS[stream].validate_python(raw), customer, CONFIG)


def test_every_event_counts_and_stamps_times() -> None:
    update = folded(Stream.CLICKSTREAM, event("search", query="red shoes"))
    assert Touch("n:search", to_ms(NOW), "last:search", rhythmic=True) in update.ops
    assert update.event_ms == to_ms(NOW)
    assert update.cart_check_due_ms is None


def test_add_to_cart_fills_cart_and_schedules_a_check_after_the_delay() -> None:
    update = folded(
        Stream.CLICKSTREAM,
        event("add_to_cart", item_id="sku-1", category="shoes", price=20.0, quantity=2),
    )
    assert CartAdd("sku-1", "shoes", 20.0, 2, "e-add_to_cart", to_ms(NOW)) in update.ops
    assert update.cart_check_due_ms == to_ms(NOW + timedelta(minutes=30))


def test_remove_and_purchase_empty_the_cart() -> None:
    removed = folded(Stream.CLICKSTREAM, event("remove_from_cart", item_id="sku-1"))
    assert CartRemove("sku-1", to_ms(NOW)) in removed.ops
    bought = folded(Stream.PURCHASE, purchase())
    assert CartClear(to_ms(NOW)) in bought.ops
    assert Incr("spend:EUR", 2000) in bought.ops, "exact, in cents"


def test_contact_handles_are_stored_only_as_tokens() -> None:
    traits = event(
        "traits",
        email="Ann@Example.com",
        phone="+49 30 1234",
        device_ids=["dev-1"],
        timezone="Europe/Berlin",
    )
    update = folded(Stream.IDENTITY, traits)
    stored = " ".join(op.value for op in update.ops if isinstance(op, LastWrite))
    assert "Ann" not in stored
    assert "example" not in stored.lower()
    assert "1234" not in stored
    assert (
        LastWrite("h:email", pseudonymize(b"test-secret", "email", "ann@example.com"), to_ms(NOW))
        in update.ops
    )
    assert LastWrite("timezone", "Europe/Berlin", to_ms(NOW)) in update.ops
    assert update.device_tokens == (pseudonymize(b"test-secret", "device", "dev-1"),)
    assert "dev-1" not in update.device_tokens[0]


def test_consent_is_last_writer_wins_by_event_time() -> None:
    update = folded(Stream.IDENTITY, event("consent", channel="push", opted_in=False))
    assert LastWrite("consent:push", "0", to_ms(NOW)) in update.ops


def test_sensor_event_is_folded_for_the_resolved_customer() -> None:
    reading = event("proximity", device_id="dev-1", store_id="store-7", distance_m=12.0)
    update = folded(Stream.SENSOR, reading, customer="c-9")
    assert update.customer_id == "c-9"
    assert LastWrite("near_store", "store-7", to_ms(NOW)) in update.ops


def test_purchases_and_traits_say_where_the_customer_is() -> None:
    bought = folded(Stream.PURCHASE, purchase(country="GB", region="Wales", locale="cy-GB"))
    described = folded(Stream.IDENTITY, event("traits", country="CH", locale="de-CH"))
    ms = to_ms(NOW)
    assert {LastWrite("country", "GB", ms), LastWrite("region", "Wales", ms)} <= set(bought.ops)
    assert LastWrite("locale", "cy-GB", ms) in bought.ops
    assert {LastWrite("country", "CH", ms), LastWrite("locale", "de-CH", ms)} <= set(described.ops)
    assert not any(isinstance(op, LastWrite) for op in folded(Stream.PURCHASE, purchase()).ops)
