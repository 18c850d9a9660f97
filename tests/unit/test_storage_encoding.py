"""Pure parts of the Redis adapter: key layout, key templates, the profile document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import orjson
from redis.asyncio import Redis

from stream_app.clock import to_ms
from stream_app.profiles.cart import CartLine, cart_line
from stream_app.profiles.state import Decayed, ProfileState
from stream_app.storage.catalog import CatalogStore
from stream_app.storage.commit import Writes
from stream_app.storage.layout import Keys, event_key
from stream_app.storage.profiles import decode_state, encode_state


def test_customer_keys_share_one_hash_tag() -> None:
    keys = Keys("sa")
    tagged = [keys.profile("c-1"), keys.seen("c-1"), keys.pending("c-1"), keys.sent("c-1")]
    assert {k[k.index("{") : k.index("}") + 1] for k in tagged} == {"{c-1}"}
    assert keys.due().split(":")[1] == keys.inflight().split(":")[1] == "{sched}"


def test_prefix_isolates_deployments() -> None:
    assert Keys("a").profile("c") != Keys("b").profile("c")


def test_keys_built_with_a_placeholder_are_the_scripts_templates() -> None:
    # lua/load.lua formats these with string.format: the grammar stays in Keys.
    keys = Keys("sa")
    assert keys.profile("%s") % "c-1" == keys.profile("c-1")
    assert keys.scored("%s", "%s") % ("c-1", "d-1") == keys.scored("c-1", "d-1")
    assert keys.device("%s") % "device:ab" == keys.device("device:ab")


def test_profile_document_round_trips_and_starts_with_its_version() -> None:
    state = ProfileState(
        "c-1",
        {"n": 3, "value": 12.5, "gender": "female", "@gender": 5},
        tastes=Decayed(100, {"c:shoes": 2.0}),
        rhythm=Decayed(None, {}),
        cart={"sku-1": [123, "shoes", 9.5, 2, "e-1", 0]},
        viewed={"sku-1": [120, "shoes"]},
        searches={"red suv": 99},
    )
    raw = encode_state(state, 7)
    assert raw.startswith(b'{"v":7,')
    back = decode_state("c-1", raw)
    assert back.version == 7
    assert (back.fields, back.tastes, back.cart, back.viewed) == (
        state.fields,
        state.tastes,
        state.cart,
        state.viewed,
    )
    assert orjson.loads(raw)["s"] == {"red suv": 99}


def test_a_missing_document_is_an_empty_profile_at_version_zero() -> None:
    state = decode_state("c-9", None)
    assert (state.exists, state.version) == (False, 0)


def test_stored_cart_lines_decode_with_their_tombstones() -> None:
    line = cart_line("sku-1", [123, "shoes", 9.5, 2, "e-1", 200])
    assert line == CartLine("sku-1", "shoes", 9.5, 2, "e-1", 123, 200)
    assert line is not None
    assert line.removed
    assert cart_line("sku-2", [0, "", 0, 0, "", 5]) is None
    assert cart_line("sku-3", [7, "toys", 1.0, 1, "e-3", 0]) == CartLine(
        "sku-3", "toys", 1.0, 1, "e-3", 7, None
    )


def test_event_ids_are_indexed_by_a_stable_64_bit_integer() -> None:
    assert event_key("ev-1") == event_key("ev-1")
    assert event_key("ev-1") != event_key("ev-2")
    # Redis keeps an integer in 8 bytes (intset, integer listpack entries) only when it is
    # written canonically: no sign but minus, no leading zero, within int64.
    for event_id in ("ev-1", "ev-2", "ord-9", "return/r-1"):
        key = event_key(event_id)
        assert str(int(key)) == key
        assert -(2**63) <= int(key) < 2**63


def test_a_document_from_before_exact_money_is_read_in_minor_units() -> None:
    legacy = b'{"v":4,"f":{"n":2,"spend:EUR":49.5,"spend:JPY":1500.0,"value":58.875,"units":2,'
    legacy += b'"units_value":49.5},"t":[null,{}],"r":[null,{}],"c":{},"w":{},"s":{}}'
    state = decode_state("c-1", legacy)
    assert state.fields == {"n": 2, "spend:EUR": 4950, "spend:JPY": 1500}
    assert decode_state("c-1", encode_state(state, 5)).fields == state.fields


def test_a_view_trims_the_items_viewers_to_the_kept_window() -> None:
    """An item viewed every day keeps only the viewers it would keep when it changes."""
    store = CatalogStore(
        cast(Redis, None), Keys("sa"), viewers_kept=timedelta(days=14), wishers_ttl_s=60
    )
    writes = Writes()
    now = datetime(2026, 12, 7, tzinfo=UTC)
    store.viewed(writes, {"sku-1": [("c-1", to_ms(now))]}, now)
    oldest = to_ms(now - timedelta(days=14))
    assert ("ZREMRANGEBYSCORE", "sa:viewers:{sku-1}", "-inf", f"({oldest}") in writes.commands
