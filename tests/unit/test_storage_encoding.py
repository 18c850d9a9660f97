"""Pure parts of the Redis adapter: key layout and the op wire format."""

from __future__ import annotations

import orjson

from stream_app.profiles.ops import CartAdd, CartRemove, IncrFloat, Max, Min
from stream_app.storage.keys import Keys
from stream_app.storage.profiles import decode_cart_line, encode_ops


def test_customer_keys_share_one_hash_tag() -> None:
    keys = Keys("sa")
    tagged = [keys.profile("c-1"), keys.seen("c-1"), keys.cart("c-1"), keys.sent("c-1")]
    assert {k[k.index("{") : k.index("}") + 1] for k in tagged} == {"{c-1}"}
    assert keys.due().split(":")[1] == keys.inflight().split(":")[1] == "{sched}"


def test_prefix_isolates_deployments() -> None:
    assert Keys("a").profile("c") != Keys("b").profile("c")


def test_cart_line_round_trips_through_the_wire_format() -> None:
    [wire] = orjson.loads(encode_ops([CartAdd("sku-1", "shoes", 9.5, 2, "e-1", 123)]))
    assert wire[:3] == ["ca", "sku-1", 123]
    line = decode_cart_line("sku-1", wire[3])
    assert (
        line.item_id,
        line.category,
        line.price,
        line.quantity,
        line.event_id,
        line.added_ms,
    ) == (
        "sku-1",
        "shoes",
        9.5,
        2,
        "e-1",
        123,
    )


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
