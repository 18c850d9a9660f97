"""Slot grouping of a commit and the schedule shards (pure: no Redis)."""

from __future__ import annotations

from collections import Counter

from redis.crc import key_slot

from stream_app.storage.layout import Keys
from stream_app.storage.slots import by_slot
from stream_app.storage.slots import key_slot as slot_of


def test_a_customers_guard_and_writes_share_one_group_in_order() -> None:
    keys = Keys("sa", shards=64)
    commands = [
        ("SET", keys.profile("c-1"), "a"),
        ("ZADD", keys.due(keys.shard("c-1")), "NX", 1, "cart:c-1"),
        ("SADD", keys.orders("c-1"), "x"),
        ("SET", keys.profile("c-2"), "b"),
    ]
    groups = by_slot([(keys.profile("c-1"), 3)], commands)
    mine = groups[key_slot(b"c-1")]
    assert mine.guards == [(keys.profile("c-1"), 3)]
    assert [c[1] for c in mine.commands] == [keys.profile("c-1"), keys.orders("c-1")]
    assert mine.route_key == keys.profile("c-1")
    assert sum(len(g.commands) for g in groups.values()) == len(commands)


def test_shards_spread_customers_and_one_shard_is_the_unsharded_layout() -> None:
    keys = Keys("sa", shards=64)
    counts = Counter(keys.shard(f"c-{i}") for i in range(64_000))
    assert len(counts) == 64
    assert max(counts.values()) < 1.1 * 1000, "no shard takes much more than its share"
    assert len({key_slot(keys.due(s).encode()) for s in range(64)}) == 64
    single = Keys("sa")
    assert single.shard("c-1") == 0
    assert single.due(single.shard("c-1")) == "sa:{sched}:due"


def test_our_slot_is_redis_pys() -> None:
    for key in ("sa:{c-1}:p", "foo", "{}x", "a{}b{c}", "sa:{sched:7}:due", "x{y", "é:{ü}"):
        assert slot_of(key) == key_slot(key.encode()), key
