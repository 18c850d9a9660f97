"""Pure parts of the Redis adapter: key layout and the op wire format."""

from __future__ import annotations

import orjson

from stream_app.profiles.cart import CartLine
from stream_app.profiles.ops import CartAdd, CartRemove, IncrFloat, Max, Min
from stream_app.storage.keys import Keys
from stream_app.storage.profiles import decode_cart_line, encode_ops, event_key


def test_customer_keys_share_one_hash_tag() -> None:
    keys = Keys("sa")
    tagged = [keys.profile("c-1"), keys.seen("c-1"), keys.cart("c-1"), keys.sent("c-1")]
    assert {k[k.index("{") : k.index("}") + 1] for k in tagged} == {"{c-1}"}
    assert keys.due().split(":")[1] == keys.inflight().split(":")[1] == "{sched}"


def test_prefix_isolates_deployments() -> None:
    assert Keys("a").profile("c") != Keys("b").profile("c")


def test_cart_ops_carry_what_the_script_stores() -> None:
    [wire] = orjson.loads(encode_ops([CartAdd("sku-1", "shoes", 9.5, 2, "e-1", 123)]))
    assert wire == ["ca", "sku-1", 123, "shoes", 9.5, 2, "e-1"]


def test_stored_cart_lines_decode_with_their_tombstones() -> None:
    line = decode_cart_line("sku-1", '[123,"shoes",9.5,2,"e-1",200]')
    assert line == CartLine("sku-1", "shoes", 9.5, 2, "e-1", 123, 200)
    assert line is not None
    assert line.removed
    assert decode_cart_line("sku-2", '[0,"",0,0,"",5]') is None
    assert decode_cart_line("sku-3", '[7,"toys",1.0,1,"e-3",0]') == CartLine(
        "sku-3", "toys", 1.0, 1, "e-3", 7, None
    )


def test_event_ids_are_indexed_by_a_short_stable_hash() -> None:
    assert event_key("ev-1") == event_key("ev-1")
    assert len(event_key("ev-1")) == 8
    assert event_key("ev-1") != event_key("ev-2")


def test_ops_encode_in_order() -> None:
    ops = [
        Max("last_seen", 5),
        Min("first_seen", 5),
        IncrFloat("spend:EUR", 1.5),
        CartRemove("x", 9),
    ]
    assert orjson.loads(encode_ops(ops)) == [
        ["max", "last_seen", 5],
        ["min", "first_seen", 5],
        ["f", "spend:EUR", 1.5],
        ["cr", "x", 9],
    ]
