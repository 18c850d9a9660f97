"""The cut-over from backfill to live through the real worker and ``stream-app cutover``.

Regular customers whose history (an order every ten days, the last twenty days ago) is
loaded as backfill are at risk, yet history messages nobody and arms no timer. The
cut-over arms their segment checks at a small cap (60 a minute: a slot a second), so
the win-back campaign reaches each of them on the timer's normal path, one slot after
another, never before the cut-over and never as a burst. One of them sends a live
event before the cut-over: evaluated at once, won back at their slot. Cut over again:
nobody is armed twice.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from bench.cutover import WIN_BACK, most_in_a_window, regular
from stream_app.clock import to_ms
from stream_app.devstack.ports import free_port
from stream_app.devstack.workers import worker_process
from stream_app.kafka_topics import ensure_topics
from stream_app.producers.replay import replay_file
from stream_app.settings import Settings
from stream_app.storage.commit import Committer, Writes
from stream_app.storage.layout import Keys
from stream_app.storage.schedule import ScheduleStore, slot_interval_ms
from tests.integration.conftest import ARTIFACTS
from tests.integration.fixtures import event, eventually, isolated, produce, read_to_end
from tests.oracle.redis_view import stats

pytestmark = pytest.mark.integration

PER_MINUTE = 60


@pytest.fixture
def own(settings: Settings, tmp_path: Path) -> Settings:
    campaigns = tmp_path / "campaigns.toml"
    campaigns.write_text(WIN_BACK)
    mine, _ = isolated(settings, "co", tmp_path / "faust")
    return mine.updated(
        metrics={"port": free_port()},
        decisions={
            "campaigns_file": campaigns,
            "timer_max_sleep": timedelta(seconds=2),
            "cutover_per_minute": PER_MINUTE,
        },
    )


def cut_over(own: Settings) -> str:
    """``stream-app cutover`` as an operator runs it (settings from the environment)."""
    done = subprocess.run(
        [sys.executable, "-m", "stream_app", "cutover"],
        env={**os.environ, **own.to_env()}, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout


async def _decisions(own: Settings) -> list[dict[str, Any]]:
    found = await read_to_end(own, [own.topics.decisions])
    return sorted((orjson.loads(r.value) for r in found), key=lambda d: d["decided_at"])


async def test_backfilled_customers_are_won_back_at_the_cap_only_after_the_cut_over(
    own: Settings, redis: Redis, tmp_path: Path
) -> None:
    keys = Keys(own.redis.key_prefix)
    now = datetime.now(UTC)
    customers = [f"co-{n}-{uuid.uuid4().hex[:6]}" for n in range(5)]
    history = sorted((e for c in customers for e in regular(c, now)), key=lambda e: e["event_time"])
    log = tmp_path / "history.jsonl"
    log.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in history))
    await ensure_topics(own)
    await replay_file(own, log, backfill=True, envelope_size=4)

    process = worker_process(own, ARTIFACTS / "logs", name="cutover")
    with process:
        await eventually(
            lambda: stats(redis, own.redis.key_prefix),
            lambda s: s.get("events_backfilled", 0) >= len(history),
        )
        waiting = {m.decode() for m in await redis.zrange(keys.backfilled(), 0, -1)}
        assert waiting == set(customers)
        assert await redis.zcard(keys.due()) == 0, "history armed no timer"

        # A live visit of one of them before the cut-over: evaluated at once (segments),
        # while their win-back, a matter of time, waits for their check like the others'.
        live = customers[0]
        visit = event("product_view", live, "e-live", item_id="sku-2", category="shoes", price=12.0)
        await produce(own, own.topics.clickstream, [(live.encode(), orjson.dumps(visit))])
        evaluated = await eventually(
            lambda: stats(redis, own.redis.key_prefix),
            lambda s: s.get("segments_evaluated", 0) >= 1,
        )
        assert evaluated.get("segments_evaluated") == 1, sorted(evaluated.items())
        assert await _decisions(own) == [], "nothing before the cut-over"

        cut_at = datetime.now(UTC)
        assert "armed 5 backfilled customers' checks" in cut_over(own)
        assert await redis.zcard(keys.backfilled()) == 0
        first_slot = cut_at + own.decisions.timer_max_sleep
        decided = await eventually(lambda: _decisions(own), lambda found: len(found) >= 5)
        assert sorted(d["customer_id"] for d in decided) == sorted(customers), decided
        assert {d["campaign_id"] for d in decided} == {"win_back"}
        later = [datetime.fromisoformat(d["decided_at"]) for d in decided]
        # Each slot holds one customer: the k-th decision comes no earlier than the k-th slot.
        interval = timedelta(milliseconds=slot_interval_ms(PER_MINUTE))
        for k, at in enumerate(later):
            assert at >= first_slot + k * interval, (k, at, first_slot)
        assert later[-1] - later[0] >= 2 * interval, "spread, not a burst"
        assert most_in_a_window(later) <= PER_MINUTE

        # A second cut-over arms nobody: nothing more is sent.
        assert "no backfilled customer waits" in cut_over(own)
        assert len(await _decisions(own)) == len(customers)
        assert process.running, process.log_tail()


async def test_cut_overs_share_no_slot_and_arm_each_customer_once(
    settings: Settings, redis: Redis
) -> None:
    """Two cut-overs at once (two operators, or a retry) take consecutive slots; a third
    finds nobody; a check already due earlier (a live customer's) keeps its time."""
    own, _ = isolated(settings, "cos")
    keys, store = Keys(own.redis.key_prefix), ScheduleStore(redis, Keys(own.redis.key_prefix))
    writes = Writes()
    store.backfilled(writes, [f"c-{n}" for n in range(6)], 1)
    store.arm(writes, {"seg:c-0": 5}, "LT")  # live, due long ago
    await Committer(redis).commit(writes)
    start = to_ms(datetime.now(UTC)) + 60_000
    runs = await asyncio.gather(*(store.cut_over(start, PER_MINUTE, chunk=2) for _ in range(2)))
    assert sum(run.armed for run in runs) == 6
    due = dict(await redis.zrange(keys.due(), 0, -1, withscores=True))
    slots = sorted(int(ms) for member, ms in due.items() if member != b"seg:c-0")
    interval = slot_interval_ms(PER_MINUTE)
    # c-0, first in the set, took the first slot of the first chunk, and kept its time
    assert slots == [int(start + k * interval) for k in range(1, 6)]
    assert due[b"seg:c-0"] == 5
    assert await redis.zcard(keys.backfilled()) == 0
    assert (await store.cut_over(start, PER_MINUTE)).armed == 0
