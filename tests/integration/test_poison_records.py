"""A poison record in every partition of an inbound topic never blocks that partition.

Each partition of the clickstream topic gets, between good events of customers
keyed to it, three records the engine cannot use: bytes that are not JSON, a
tombstone (a key with a null value) and JSON that is not an object. Each is
dead-lettered once, with its reason and the exact topic / partition / offset it
came from and its original bytes; every good event, before and after them, is
applied exactly once.
"""

from __future__ import annotations

import base64
import uuid
from collections import Counter, defaultdict

import pytest
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from stream_app.devstack.processes import ManagedProcess
from stream_app.events.deadletter import DeadLetter, RejectReason
from stream_app.kafka import client_options
from stream_app.settings import Settings
from stream_app.storage.layout import Keys
from tests.integration.fixtures import (
    customers_per_partition,
    dumps,
    event,
    event_counts,
    eventually,
    read_to_end,
)

pytestmark = pytest.mark.integration

CUSTOMERS_PER_PARTITION = 2
#: (what is sent as the record value, the reason it must be dead-lettered with)
POISON: list[tuple[bytes | None, RejectReason]] = [
    (b"\xff\xfe\x00 poison: not JSON", RejectReason.UNDECODABLE),
    (None, RejectReason.UNDECODABLE),  # a tombstone: the record has no value at all
    (b"[1, 2, 3]", RejectReason.INVALID_SHAPE),
]


async def test_a_poison_record_in_every_partition_is_dead_lettered_and_the_rest_applied(
    worker: ManagedProcess, settings: Settings, redis: Redis, keys: Keys
) -> None:
    topic = settings.topics.clickstream
    partitions = settings.kafka.topic_partitions
    run = uuid.uuid4().hex[:8]
    by_partition = customers_per_partition(f"poison-{run}", partitions, CUSTOMERS_PER_PARTITION)
    customers = sorted(c for group in by_partition.values() for c in group)

    expected: dict[str, Counter[str]] = defaultdict(Counter)
    #: (partition, offset) of each poison record -> (its value, the expected reason)
    poisoned: dict[tuple[int, int], tuple[bytes | None, RejectReason]] = {}
    #: per partition, the offsets of the good events
    good_offsets: dict[int, list[int]] = defaultdict(list)
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    try:
        for p, group in sorted(by_partition.items()):
            for step in range(len(POISON) + 1):
                for customer in group:
                    type_, fields = (
                        ("page_view", {"path": f"/s/{step}"})
                        if step % 2 == 0
                        else ("product_view", {"item_id": "sku-1", "category": "toys", "price": 5})
                    )
                    payload = event(type_, customer, f"e-{customer}-{step}", **fields)
                    meta = await producer.send_and_wait(
                        topic, dumps(payload), key=customer.encode(), partition=p
                    )
                    assert meta.partition == p
                    good_offsets[p].append(meta.offset)
                    expected[customer][type_] += 1
                if step < len(POISON):
                    value, reason = POISON[step]
                    meta = await producer.send_and_wait(
                        topic, value, key=group[0].encode(), partition=p
                    )
                    assert meta.partition == p
                    poisoned[(p, meta.offset)] = (value, reason)
    finally:
        await producer.stop()
    for p in range(partitions):
        poison_offsets = [o for (q, o) in poisoned if q == p]
        assert len(poison_offsets) == len(POISON), "every partition holds every poison record"
        assert max(good_offsets[p]) > max(poison_offsets), "good events follow the poison"
        assert min(good_offsets[p]) < min(poison_offsets), "and precede it"

    want = {
        c: {"n": sum(types.values())} | {f"n:{t}": k for t, k in types.items()}
        for c, types in expected.items()
    }
    stored = await eventually(
        lambda: event_counts(redis, keys, customers),
        lambda got: all(got[c] == want[c] for c in customers),
        within=60,
    )
    assert worker.running, f"the worker died:\n{worker.log_tail()}"
    wrong = {c: (stored[c], want[c]) for c in customers if stored[c] != want[c]}
    assert not wrong, f"customers (stored, expected) after the poison: {wrong}"

    # Dead letters are acknowledged before their batch, so they are all on the topic by now.
    letters = [
        DeadLetter.model_validate_json(r.value)
        for r in await read_to_end(settings, [settings.topics.deadletter])
        if r.value
    ]
    mine = [
        d
        for d in letters
        if d.source_topic == topic and (d.source_partition, d.source_offset) in poisoned
    ]
    found = Counter((d.source_partition, d.source_offset) for d in mine)
    assert found == Counter(set(poisoned)), "each poison record dead-lettered exactly once"
    good = {(p, o) for p, offsets in good_offsets.items() for o in offsets}
    assert not [
        d
        for d in letters
        if d.source_topic == topic and (d.source_partition, d.source_offset) in good
    ], "no good event dead-lettered"
    for letter in mine:
        value, reason = poisoned[(letter.source_partition, letter.source_offset)]
        where = f"partition {letter.source_partition} offset {letter.source_offset}"
        assert letter.reason == reason, f"{where}: {letter.reason} ({letter.detail})"
        assert letter.detail, where
        assert letter.index is None, where
        assert base64.b64decode(letter.original) == (value or b""), where
        assert (letter.original_size, letter.truncated) == (len(value or b""), False), where
