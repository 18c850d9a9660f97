"""The cut-over from backfill to live: time-based campaigns reach backfilled customers at
the cap, never as a burst.

``--customers`` regular customers (push consent, an order every ten days until twenty days
ago: at risk, a win-back each) are loaded with ``stream-app replay --backfill`` and
drained by a worker whose only campaign is a win-back sent at once; nothing may be
decided then (``cutover.decisions_before``, 0). Then ``stream-app cutover`` at
``--per-minute`` (``cutover.cap_per_min``), and the decisions are read back:
``cutover.max_decisions_per_min`` is the most whose ``decided_at`` fall in any 60 s
window (sliding, from each decision), which must be <= the cap; more customers than the
cap make the check mean something. ``cutover.decisions`` (one per customer),
``cutover.span_s`` (first to last), ``cutover.early`` (decisions before the first slot, 0)
and ``cutover.slot_late_p99_ms`` (how late after the k-th slot the k-th decision came)
go beside it.

    python -m bench.cutover [--customers 360 --per-minute 240]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import redis
from aiokafka import AIOKafkaConsumer

from bench.common import BenchError, report, wait_for
from bench.common import scratch_stack as scratch
from bench.throughput import run_settings
from stream_app.devstack.workers import worker_process
from stream_app.kafka import client_options
from stream_app.kafka_topics import ensure_topics
from stream_app.producers.replay import replay_file
from stream_app.settings import Settings
from stream_app.storage.configured import keys_of
from stream_app.storage.schedule import slot_interval_ms

#: The one campaign: a win-back, sent as soon as it is decided, nobody held out.
WIN_BACK = """
[[campaigns]]
id = "win_back"
trigger = { type = "win_back" }
channels = ["push"]
urgency = { earliest = "PT0S", latest = "PT1H" }
send_time = "earliest"
cooldown = "PT1S"
holdout = 0.0
goal = "visit"
goal_window = "PT1H"
"""
MINUTE = timedelta(minutes=1)


def regular(cid: str, now: datetime) -> list[dict[str, Any]]:
    """Push consent, then an order every ten days until twenty days ago: at risk ``now``."""
    start = now - timedelta(days=100)
    out = [_event("consent", cid, start, channel="push", opted_in=True)]
    line = {"item_id": "sku-1", "category": "shoes", "quantity": 1, "unit_price": 20.0}
    for n in range(9):
        at = start + timedelta(days=10 * n, hours=1)
        order = {"order_id": f"o-{cid}-{n}", "total": 20.0, "currency": "EUR", "items": [line]}
        out.append(_event("purchase", cid, at, **order))
    return out


def _event(type_: str, cid: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"e-{uuid.uuid4().hex[:16]}", "type": type_, "customer_id": cid,
            "event_time": at.isoformat(), **fields}  # fmt: skip


def most_in_a_window(times: Sequence[datetime], window: timedelta = MINUTE) -> int:
    """The most of ``times`` in any window ``[t, t + window)`` (sliding).

    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> most_in_a_window([t, t + timedelta(seconds=59), t + timedelta(seconds=60)])
    2
    """
    ordered, most, first = sorted(times), 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


def cut_over(settings: Settings, per_minute: int) -> str:
    """``stream-app cutover`` as an operator runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "stream_app", "cutover", "--per-minute", str(per_minute)],
        env={**os.environ, **settings.to_env()}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


async def decisions(settings: Settings, want: int, within: float) -> list[dict[str, Any]]:
    """The decisions topic from its start until ``want`` were read (or ``within`` s)."""
    consumer = AIOKafkaConsumer(
        settings.topics.decisions, **client_options(settings), auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + within
        while len(found) < want and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                found += [orjson.loads(r.value) for r in batch]
    finally:
        await consumer.stop()
    return found


def measure(args: argparse.Namespace) -> dict[str, Any]:
    with scratch("stream-app-cutover-") as (workdir, stack):
        campaigns = workdir / "campaigns.toml"
        campaigns.write_text(WIN_BACK)
        settings = run_settings(stack, workdir, "bench-cutover", "co", "cutover").updated(
            decisions={"campaigns_file": campaigns, "quiet_hours": None,
                       "timer_max_sleep": timedelta(seconds=2)},
        )  # fmt: skip
        now = datetime.now(UTC)
        history = [e for n in range(args.customers) for e in regular(f"c-{n}", now)]
        log = workdir / "history.jsonl"
        log.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in history))
        asyncio.run(ensure_topics(settings))
        asyncio.run(replay_file(settings, log, backfill=True, envelope_size=10))
        client = redis.Redis.from_url(settings.redis.url, decode_responses=True)
        stats = keys_of(settings).stats()
        with worker_process(settings, workdir / "logs", name="cutover-worker") as worker:
            wait_for(
                "the history to be applied",
                lambda: int(client.hget(stats, "events_backfilled") or 0) >= len(history),
                args.timeout, process=worker,
            )  # fmt: skip
            time.sleep(3.0)  # a timer sleep and more: anything history armed would be due
            before = asyncio.run(decisions(settings, 1, 2.0))
            print(f"history applied: {len(history):,} events, {len(before)} decisions")
            print(cut_over(settings, args.per_minute))
            # Where the slots began: the next free slot, less the slots this cut-over took.
            free_ms = float(client.get(keys_of(settings).cutover()) or 0)
            interval_ms = slot_interval_ms(args.per_minute)
            first_slot = datetime.fromtimestamp(
                (free_ms - args.customers * interval_ms) / 1000, UTC
            )
            span = args.customers / args.per_minute * 60
            after = asyncio.run(decisions(settings, args.customers, span + args.timeout))
        client.close()
    if len(after) < args.customers:
        raise BenchError(f"{len(after)} of {args.customers} win-backs after the cut-over")
    return keys(args, before, after, first_slot)


def keys(
    args: argparse.Namespace,
    before: Sequence[dict[str, Any]],
    after: Sequence[dict[str, Any]],
    first_slot: datetime,
) -> dict[str, Any]:
    """The bench keys from the decisions read before and after the cut-over."""
    times = sorted(datetime.fromisoformat(d["decided_at"]) for d in after)
    interval = timedelta(milliseconds=slot_interval_ms(args.per_minute))
    # The k-th decision against the k-th slot: how late the timers ran it.
    late = sorted(max(at - (first_slot + k * interval), timedelta(0)) for k, at in enumerate(times))
    return {
        "cutover.cap_per_min": args.per_minute,
        "cutover.max_decisions_per_min": most_in_a_window(times),
        "cutover.decisions": len(after),
        "cutover.customers": args.customers,
        "cutover.decisions_before": len(before),
        "cutover.early": sum(at < first_slot for at in times),
        "cutover.span_s": round((times[-1] - times[0]).total_seconds(), 1),
        "cutover.slot_late_p99_ms": round(
            late[int(0.99 * (len(late) - 1))] / timedelta(milliseconds=1)
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=360)
    parser.add_argument("--per-minute", type=int, default=240, help="the cut-over's cap")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--no-write", dest="write", action="store_false")
    return report(parser.parse_args(argv), measure, "cutover")


if __name__ == "__main__":
    raise SystemExit(main())
