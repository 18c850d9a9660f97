"""Anonymous visitors on ingest (docs/identity.md): records keyed by the anonymous id
when no customer is named, pseudonymized profile ids, and the link an event naming
both ids carries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import orjson

from stream_app.events.encode import record_key
from stream_app.events.registry import EVENT_ADAPTERS, Stream
from stream_app.profiles.fold import FoldConfig
from stream_app.profiles.identity import anonymous_profile_id, is_anonymous
from stream_app.streaming.batch import BatchConfig, decode_batch
from tests.unit.fixtures import LIMITS, NOW, event

FOLD = FoldConfig(pseudonym_secret=b"k", cart_abandon_delay=timedelta(minutes=30))
CONFIG = BatchConfig({"click": Stream.CLICKSTREAM}, LIMITS, FOLD, 1000, 60_000, 10)


@dataclass(frozen=True)
class Record:
    value: bytes
    topic: str = "click"
    partition: int = 0
    offset: int = 0


def test_records_are_keyed_by_customer_else_by_anonymous_id() -> None:
    adapter = EVENT_ADAPTERS[Stream.CLICKSTREAM]
    both = adapter.validate_python(event("app_open", anonymous_id="ck-1"))
    guest = adapter.validate_python(event("app_open", customer_id=None, anonymous_id="ck-1"))
    assert record_key(both) == b"c-1"
    assert record_key(guest) == b"ck-1"


def test_a_visitor_is_folded_under_a_pseudonym_and_a_login_links_it() -> None:
    visit = event("page_view", path="/", customer_id=None, anonymous_id="ck-1", event_id="v")
    login = event("page_view", path="/", anonymous_id="ck-1", event_id="l")
    batch = decode_batch([Record(orjson.dumps({"events": [visit, login]}))], CONFIG, NOW)
    visitor = anonymous_profile_id(b"k", "ck-1")
    assert is_anonymous(visitor)
    assert "ck-1" not in visitor, "the raw anonymous id is never stored"
    assert set(batch.updates) == {visitor, "c-1"}
    [guest] = batch.updates[visitor]
    [linked] = batch.updates["c-1"]
    assert (guest.linked, linked.linked) == (None, visitor)
    assert not batch.dead


def test_updates_of_a_linked_visitor_move_to_the_customer() -> None:
    visit = event("page_view", path="/", customer_id=None, anonymous_id="ck-1", event_id="v")
    batch = decode_batch([Record(orjson.dumps(visit))], CONFIG, NOW)
    visitor = anonymous_profile_id(b"k", "ck-1")
    batch.relink({visitor: "c-9"})
    assert [u.event_id for u in batch.updates["c-9"]] == ["v"]
    assert visitor not in batch.updates
