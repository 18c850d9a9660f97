"""Readings of unlinked devices, decided without I/O (``streaming.parking``): parked with
their device's token (never its raw id) up to the cap, once however often they come;
applied to the owner once the device is linked; dead-lettered only when their grace is
over; taken from the park in the pass that applies or expires them."""

from __future__ import annotations

import base64
from typing import NamedTuple

import orjson

from stream_app.clock import to_ms
from stream_app.counts import Labelled
from stream_app.events.deadletter import RejectReason
from stream_app.events.topics import TopicNames
from stream_app.profiles.fold import FoldConfig
from stream_app.profiles.pseudonym import pseudonymize
from stream_app.profiles.state import ProfileState
from stream_app.storage.customers import Loaded, Waiting
from stream_app.storage.layout import event_key
from stream_app.storage.parking import Parked
from stream_app.streaming.batch import Batch, BatchConfig, decode_batch
from stream_app.streaming.checks import DueChecks
from stream_app.streaming.parking import claim_waiting, own, unparked
from tests.unit.fixtures import LIMITS, NOW, event

TOPICS = TopicNames()
GRACE_MS = 60_000
CONFIG = BatchConfig(TOPICS.streams(), LIMITS, FoldConfig(b"secret", None), 1000, GRACE_MS, 2)
TOKEN = pseudonymize(b"secret", "device", "phone-1")


class Record(NamedTuple):
    topic: str
    partition: int
    offset: int
    value: bytes | None


def readings(*ids: str) -> Batch:
    """A batch of ambient readings of device ``phone-1`` (no customer named)."""
    records = [
        Record(
            TOPICS.sensor,
            0,
            n,
            orjson.dumps(
                event("ambient", event_id=i, device_id="phone-1", temperature_c=20, weather="rain")
            ),
        )
        for n, i in enumerate(ids)
    ]
    return decode_batch(records, CONFIG, NOW)


def test_an_unlinked_device_s_readings_are_parked_with_its_token_up_to_the_cap() -> None:
    batch = readings("r-1", "r-2", "r-3")
    own(batch, {}, {}, CONFIG)
    parked = batch.parking.park[TOKEN]
    assert [p.key for p in parked] == [event_key("r-1"), event_key("r-2")]
    assert {p.due_ms for p in parked} == {to_ms(NOW) + GRACE_MS}
    assert all(b"phone-1" not in p.to_json() for p in parked)
    assert parked[0].event["device_id"] == TOKEN
    [letter] = batch.dead
    assert (letter.reason, letter.source_offset) == (RejectReason.UNKNOWN_DEVICE, 2)
    assert batch.parking.earliest() == to_ms(NOW) + GRACE_MS
    assert batch.counters[Labelled("device_readings", "parked")] == 2


def test_a_reading_redelivered_while_parked_is_not_parked_again() -> None:
    batch = readings("r-1", "r-2")
    own(batch, {}, {TOKEN: Waiting(1, frozenset({event_key("r-1")}))}, CONFIG)
    assert [p.key for p in batch.parking.park[TOKEN]] == [event_key("r-2")]
    assert not batch.dead


def test_a_linked_device_s_readings_go_to_its_owner() -> None:
    batch = readings("r-1")
    own(batch, {TOKEN: "c-9"}, {}, CONFIG)
    assert [u.customer_id for u in batch.updates["c-9"]] == ["c-9"]
    assert not batch.parking.park
    assert not batch.dead


def _from_park(batch: Batch, due_ms: int) -> tuple[list[Parked], Batch]:
    """``batch``'s readings as they were parked, and back in a batch of the expiry check
    (as if due at ``due_ms``)."""
    own(batch, {}, {}, CONFIG)
    stored = batch.parking.park[TOKEN]
    expiring = Batch(NOW, 1000)
    for p in stored:
        expiring.due_of[p.key] = due_ms
        expiring.unowned[TOKEN].append(unparked(Parked.of(p.key, p.to_json())))
    return stored, expiring


def test_the_check_dead_letters_readings_whose_grace_is_over_and_keeps_the_others() -> None:
    _, expiring = _from_park(readings("r-1"), to_ms(NOW))
    own(expiring, {}, {}, CONFIG)
    [letter] = expiring.dead
    assert letter.reason is RejectReason.UNKNOWN_DEVICE
    assert b"phone-1" not in base64.b64decode(letter.original), "no raw device id"
    assert letter.source_offset == 0
    assert expiring.parking.take == {TOKEN: [event_key("r-1")]}
    assert not expiring.parking.park

    _, waiting = _from_park(readings("r-1"), to_ms(NOW) + 5)
    own(waiting, {}, {}, CONFIG)
    assert not waiting.dead
    assert not waiting.parking.take
    assert waiting.parking.rearm == {TOKEN: to_ms(NOW) + 5}


def test_the_check_applies_readings_whose_link_raced_their_parking() -> None:
    _, expiring = _from_park(readings("r-1"), to_ms(NOW))
    own(expiring, {TOKEN: "c-9"}, {}, CONFIG)
    assert not expiring.dead
    assert len(expiring.updates["c-9"]) == 1
    # taken once the owner's commit is written (on a cluster, another slot's)
    assert expiring.parking.moved == {TOKEN: ("c-9", [event_key("r-1")])}
    assert not expiring.parking.take


def test_the_linking_pass_applies_what_waits_once() -> None:
    parked, _ = _from_park(readings("r-1", "r-2"), to_ms(NOW))
    batch = Batch(NOW, 1000)
    found = Loaded(
        ProfileState("c-9"),
        applied={event_key("r-2")},  # applied before (a redelivery after its link)
        waiting=[(TOKEN, p.key, p.to_json()) for p in parked],
    )
    claim_waiting(batch, {"c-9": found}, CONFIG.fold)
    assert [batch.keys[id(u)] for u in batch.updates["c-9"]] == [p.key for p in parked]
    # the duplicate is taken with the commit, the one applied now after the owner's
    assert batch.parking.take == {TOKEN: [event_key("r-2")]}
    assert batch.parking.moved == {TOKEN: ("c-9", [event_key("r-1")])}
    assert batch.counters[Labelled("device_readings", "applied_after_wait")] == 1


def test_park_checks_are_sorted_by_device() -> None:
    checks = DueChecks.of({f"park:{TOKEN}": 5, "cart:c-1": 7})
    assert (checks.parked, checks.customers()) == ({TOKEN: 5}, ["c-1"])
