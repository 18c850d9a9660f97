"""Two workers in one consumer group share the partitions; one dies, the other takes over.

Both workers of its own group (same app id, topics, keys and settings; four
partitions; each its own Faust data directory, which is per-host state) log an
assignment of their own half of the partitions and apply events of customers
in it. One is then killed with SIGKILL while events keep arriving: after the
group's rebalance the survivor logs an assignment of every partition, and
each customer's profile counts every event sent exactly once.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from stream_app.devstack.processes import ManagedProcess
from stream_app.devstack.workers import worker_process
from stream_app.kafka import client_options
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.storage.layout import Keys
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import (
    customers_per_partition,
    dumps,
    event,
    event_counts,
    eventually,
    isolated,
    sigkill,
)

pytestmark = pytest.mark.integration

PARTITIONS = 4
PER_PARTITION = 8
CUSTOMERS = PARTITIONS * PER_PARTITION
#: One event per customer every ``EVERY_S`` seconds, ``ROUNDS`` times (~30 s of traffic).
ROUNDS = 120
EVERY_S = 0.25
#: The kill comes once this many rounds were sent (and both workers applied some).
KILL_AFTER_ROUNDS = 24
#: Joining the group, and the rebalance after the kill (a session timeout on Tansu).
JOIN_WITHIN_S = 60.0
TAKEOVER_WITHIN_S = 60.0

ASSIGNED = re.compile(r"Setting newly assigned partitions (.*?) for group", re.DOTALL)


def _partition_numbers(text: str) -> set[int]:
    """``"0-1, 3"`` (Faust's log format) -> ``{0, 1, 3}``."""
    out: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, _, high = part.partition("-")
        out.update(range(int(low), int(high or low) + 1))
    return out


def assignments(process: ManagedProcess, since: int, topic: str) -> list[set[int]]:
    """The partitions of ``topic`` in each assignment ``process`` logged after byte ``since``.

    Read from aiokafka's "Setting newly assigned partitions" line, which Faust's
    log handler turns into a table and a plain handler prints as a set.
    """
    try:
        text = process.log_path.read_bytes()[since:].decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    name = re.escape(topic)
    out = []
    for match in ASSIGNED.finditer(text):
        found = match.group(1)
        reprs = re.findall(rf"topic='{name}', partition=(\d+)", found)  # plain log format
        row = re.search(rf"\|\s*{name}\s*\|\s*\{{([^}}]*)\}}", found)  # Faust's table
        if reprs:
            out.append({int(p) for p in reprs})
        else:
            out.append(_partition_numbers(row.group(1)) if row else set())
    return out


def log_size(process: ManagedProcess) -> int:
    try:
        return process.log_path.stat().st_size
    except FileNotFoundError:
        return 0


def round_of_events(customers: Sequence[str], r: int) -> list[tuple[bytes, bytes]]:
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("page_view", {"path": f"/p/{r}"}),
        ("product_view", {"item_id": f"sku-{r % 7}", "category": "books", "price": 12.5}),
        ("search", {"query": f"novel {r % 5}"}),
        ("app_open", {"platform": "ios"}),
    ]
    type_, fields = kinds[r % len(kinds)]
    return [(c.encode(), dumps(event(type_, c, f"e-{c}-{r}", **fields))) for c in customers]


def expected_counts(r_total: int) -> dict[str, int]:
    kinds = ["page_view", "product_view", "search", "app_open"]
    out = {"n": r_total}
    for r in range(r_total):
        name = f"n:{kinds[r % len(kinds)]}"
        out[name] = out.get(name, 0) + 1
    return out


async def test_two_workers_share_the_partitions_and_the_survivor_takes_over_after_a_kill(
    settings: Settings, tmp_path: Path
) -> None:
    own, run = isolated(settings, "w")
    mine = own.updated(kafka={"topic_partitions": PARTITIONS})
    await ensure_topics(mine)
    keys = Keys(mine.redis.key_prefix)
    logs = Path(ARTIFACTS) / "logs"
    clicks = mine.topics.clickstream
    by_partition = customers_per_partition(f"tw-{run}", PARTITIONS, PER_PARTITION)
    customers = sorted(c for group in by_partition.values() for c in group)

    def one(name: str) -> ManagedProcess:
        own = mine.updated(worker={"data_dir": str(tmp_path / f"faust-{name}")})
        return worker_process(own, logs, name=f"two-workers-{name}")

    a, b = one("a"), one("b")
    since = {a.name: log_size(a), b.name: log_size(b)}

    def latest(process: ManagedProcess) -> set[int] | None:
        found = assignments(process, since[process.name], clicks)
        return found[-1] if found else None

    redis = Redis.from_url(mine.redis.url)
    producer = AIOKafkaProducer(**client_options(mine), acks="all")
    await producer.start()
    try:
        with a, b:

            async def shared() -> tuple[set[int] | None, set[int] | None]:
                for process in (a, b):
                    assert process.running, f"{process.name} died:\n{process.log_tail()}"
                return latest(a), latest(b)

            def split(pair: tuple[set[int] | None, set[int] | None]) -> bool:
                left, right = pair
                return bool(
                    left and right and not left & right and left | right == set(range(PARTITIONS))
                )

            parts = await eventually(shared, split, within=JOIN_WITHIN_S)
            assert split(parts), f"no shared assignment (a, b) within {JOIN_WITHIN_S} s: {parts}"
            part_a, part_b = parts
            assert part_a is not None
            assert part_b is not None

            async def traffic() -> None:
                for r in range(ROUNDS):
                    futures = [
                        await producer.send(clicks, value, key=key)
                        for key, value in round_of_events(customers, r)
                    ]
                    await asyncio.gather(*futures)
                    await asyncio.sleep(EVERY_S)

            sending = asyncio.create_task(traffic())
            try:
                kill_not_before = time.monotonic() + KILL_AFTER_ROUNDS * EVERY_S

                async def both_applied() -> tuple[int, int]:
                    counts = await event_counts(redis, keys, customers)

                    def applied(partitions: set[int]) -> int:
                        return sum(
                            counts[c].get("n", 0) for p in partitions for c in by_partition[p]
                        )

                    return applied(part_a), applied(part_b)

                progress = await eventually(
                    both_applied,
                    lambda ab: min(ab) > 0 and time.monotonic() >= kill_not_before,
                    within=30,
                )
                assert min(progress) > 0, f"events applied in (a's, b's) partitions: {progress}"
                assert not sending.done(), "the kill must come while events keep coming"
                sigkill(b)

                def took_over(found: set[int] | None) -> bool:
                    return found == set(range(PARTITIONS))

                async def survivor() -> set[int] | None:
                    assert a.running, f"the survivor died:\n{a.log_tail()}"
                    return latest(a)

                final = await eventually(survivor, took_over, within=TAKEOVER_WITHIN_S)
                assert took_over(final), f"a's partitions {TAKEOVER_WITHIN_S} s after: {final}"
                await asyncio.wait_for(sending, timeout=ROUNDS * EVERY_S * 2 + 30)
            finally:
                sending.cancel()

            want = expected_counts(ROUNDS)

            async def counts() -> dict[str, dict[str, int]]:
                return await event_counts(redis, keys, customers)

            stored = await eventually(
                counts, lambda got: all(got[c] == want for c in customers), within=60
            )
            assert a.running, f"the survivor died:\n{a.log_tail()}"
    finally:
        await producer.stop()
        await redis.aclose()

    wrong = {c: stored[c] for c in customers if stored[c] != want}
    assert not wrong, (
        f"{len(wrong)} customers differ from {want} (first 5): {list(wrong.items())[:5]}"
    )
