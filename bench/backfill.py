"""Loading history: how fast a backfill goes, and that it messages nobody.

A year of simulated history (``make_event_set`` over ``--days``, 365) is put on the
topics in envelopes of up to as many events as ``stream-app backfill`` packs, every
record marked as backfill (``events.backfill``), and drained by a fresh worker:
``backfill.events_per_s``, and what the pass decided from it, ``backfill.decisions``
(every decision outcome counted, planned, emitted, suppressed, ...) and
``backfill.segment_events`` (entries + exits): both must be 0. Beside it, the same
number of live single-event records of the last hour, drained the same way on the
same stack: ``backfill.live_events_per_s`` (the figure ``throughput.single_events_per_s``
measures), its decisions and segment events (not 0: the comparison shows the worker
does decide), and ``backfill.ratio_vs_live``. The target is against
``throughput.single_events_per_s`` of the same ``make bench`` run (bench.throughput
runs first): ``backfill.ratio_vs_single`` (>= 2 wanted), read from ``latest.json``
when it holds that figure. Last, the year itself is sent again, live, to keys of its own
(age limit and allowed lateness above its span): ``backfill.as_of_exact`` is the
fraction of customers whose backfilled profile read as of their last event is the
live-built one (what the API shows: life cycle, recency, decayed tastes, rhythm,
segments, value; 1.0).

    python -m bench.backfill [--customers 1000 --events 100000 --envelope-size 50]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    LATEST_JSON,
    EventSet,
    Record,
    make_event_set,
    produce,
    raw_producer,
    read_json,
    report,
)
from bench.common import scratch_stack as scratch
from bench.profiles import Rate, run_pipeline
from bench.throughput import run_settings, run_two_workers
from stream_app.api.routes_profiles import profile_at
from stream_app.clock import from_ms
from stream_app.devstack.ports import free_port
from stream_app.devstack.stack import EmbeddedStack
from stream_app.events.backfill import BACKFILL_HEADERS
from stream_app.kafka_topics import ensure_topics
from stream_app.producers.backfill import BACKFILL_ENVELOPE_SIZE
from stream_app.segments.rules import SegmentRules, load_segments
from stream_app.settings import Settings
from stream_app.storage.bundle import build_stores
from stream_app.storage.connection import redis_client


def produce_marked(bootstrap: str, records: Sequence[Record]) -> None:
    """``records`` with the backfill header, as fast as the broker takes them."""

    async def run() -> None:
        producer = raw_producer(bootstrap, "stream-app-bench-backfill", linger_ms=5)
        await producer.start()
        try:
            headers = list(BACKFILL_HEADERS)
            futures: list[asyncio.Future[Any]] = [
                await producer.send(r.topic, r.value, key=r.key, headers=headers) for r in records
            ]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    asyncio.run(run())


async def as_of_last_event(settings: Settings, customers: Sequence[str]) -> dict[str, Any]:
    """Each customer's profile as the API shows it as of their last event (life cycle,
    recency, decayed tastes, rhythm, segments, value), but for their id."""
    redis = redis_client(settings)
    try:
        states = await build_stores(redis, settings).profiles.stored(customers)
    finally:
        await redis.aclose()
    rules, values = SegmentRules(load_segments(settings.segments.file)), settings.profiles
    out: dict[str, Any] = {}
    for state in states:
        last = state.fields.get("last_seen")
        if isinstance(last, int):
            shown = profile_at(state, from_ms(last), values.value_rules(), rules)
            out[state.customer_id] = shown.model_dump(mode="json", exclude={"customer_id"})
    return out


def decided(stats: Mapping[str, int]) -> tuple[int, int]:
    """(decision outcomes, segment entries + exits) a run's stats counted."""
    decisions = sum(
        n for name, n in stats.items() if name.startswith("decisions_") and ":" not in name
    )
    return decisions, stats.get("segment_entries", 0) + stats.get("segment_exits", 0)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    with scratch("stream-app-backfill-") as (workdir, stack):
        logs, servers = workdir / "logs", stack.pids
        history = run_settings(stack, workdir, "bf-history", "bfh", "history")
        live = run_settings(stack, workdir, "bf-live", "bfl", "live")
        end = datetime.now(UTC) - timedelta(minutes=1)
        year = year_of(history, args, end)
        hour = make_event_set(
            live.topics, customers=args.customers, events=args.events, seed=args.seed,
            span=timedelta(hours=1),
        )  # fmt: skip
        print(f"generated {year.events:,} events of history in {len(year.records):,} envelopes")
        asyncio.run(ensure_topics(history))
        produce_marked(stack.kafka_bootstrap, year.records)
        asyncio.run(ensure_topics(live))
        produce(stack.kafka_bootstrap, hour.records)
        rates: dict[str, tuple[Rate, dict[str, int]]] = {}
        for label, settings, events in (("history", history, year), ("live", live, hour)):
            rate, stats, _ = run_pipeline(
                settings, events.events, logs / label, args.timeout, servers, 0.0
            )
            rates[label] = (rate, stats)
            cpu = ", ".join(f"{n} {us:.1f}" for n, us in rate.cpu_us_per_event().items())
            print(f"  {label}: {rate.events_per_s:,.0f} events/s, {decided(stats)}; CPU us: {cpu}")
        exact = as_of_exact(stack, workdir, history, args, end)
        two, before = two_workers(stack, workdir, args, end)
        cpu = ", ".join(f"{n} {us:.1f}" for n, us in two.cpu_us_per_event().items())
        print(f"  history, two workers: {two.events_per_s:,.0f} events/s; CPU us: {cpu}")
    (back, back_stats), (plain, plain_stats) = rates["history"], rates["live"]
    decisions, segment_events = decided(back_stats)
    live_decisions, live_segment_events = decided(plain_stats)
    single = read_json(LATEST_JSON).get("throughput.single_events_per_s")
    versus = (
        {
            "backfill.ratio_vs_single": round(back.events_per_s / single, 2),
            "backfill.two_workers_ratio_vs_single": round(two.events_per_s / single, 2),
        }
        if single
        else {}
    )
    return versus | {
        "backfill.two_workers_events_per_s": round(two.events_per_s),
        "backfill.two_workers_done_before_both": round(before, 3),
        "backfill.events_per_s": round(back.events_per_s),
        "backfill.decisions": decisions,
        "backfill.segment_events": segment_events,
        "backfill.events_backfilled": back_stats.get("events_backfilled", 0),
        "backfill.events_late": sum(
            n for name, n in back_stats.items() if name.startswith("events_late:")
        ),
        "backfill.live_events_per_s": round(plain.events_per_s),
        "backfill.live_decisions": live_decisions,
        "backfill.live_segment_events": live_segment_events,
        "backfill.ratio_vs_live": round(back.events_per_s / plain.events_per_s, 2),
        "backfill.envelope_size": args.envelope_size,
        "backfill.as_of_exact": exact,
    }


def year_of(settings: Settings, args: argparse.Namespace, end: datetime) -> EventSet:
    """The history set: the same events whenever it is made with the same ``end``."""
    return make_event_set(
        settings.topics, customers=args.customers, events=args.events, seed=args.seed,
        span=timedelta(days=args.days), envelope_size=args.envelope_size, end=end,
    )  # fmt: skip


def two_workers(
    stack: EmbeddedStack, workdir: Path, args: argparse.Namespace, end: datetime
) -> tuple[Rate, float]:
    """The same year backfilled by two workers of one group (history spreads over the
    partitions like live traffic, so a load may use as many workers as there are cores),
    and the share of it done before both consumed."""
    first = run_settings(stack, workdir, "bf-two", "bf2", "two")
    second = first.updated(
        metrics={"port": free_port()}, worker={"data_dir": f"{first.worker.data_dir}-2"}
    )
    year = year_of(first, args, end)
    asyncio.run(ensure_topics(first))
    produce_marked(stack.kafka_bootstrap, year.records)
    logs = workdir / "logs" / "two"
    return run_two_workers([first, second], year.events, logs, args.timeout, stack.pids)


def as_of_exact(
    stack: EmbeddedStack, workdir: Path, history: Settings, args: argparse.Namespace, end: datetime
) -> float:
    """The history set sent again, live (its age limit and allowed lateness above its
    span, so the mode is the only difference), to keys of its own: the fraction of
    customers whose backfilled profile, read as of their last event, is the live one."""
    span = timedelta(days=args.days + 2)
    live = run_settings(stack, workdir, "bf-asof", "bfa", "asof").updated(
        worker={"max_event_age": span}, profiles={"allowed_lateness": span}
    )
    year = year_of(live, args, end)
    asyncio.run(ensure_topics(live))
    produce(stack.kafka_bootstrap, year.records)
    run_pipeline(live, year.events, workdir / "logs" / "asof", args.timeout, stack.pids, 0.0)
    customers = sorted(year.events_per_customer)
    backfilled = asyncio.run(as_of_last_event(history, customers))
    built_live = asyncio.run(as_of_last_event(live, customers))
    differ = [c for c in customers if backfilled.get(c) != built_live.get(c)]
    for cid in differ[:3]:
        print(f"  as of the last event, {cid}: backfill {backfilled.get(cid)}")
        print(f"  {' ' * len(cid)}            live {built_live.get(cid)}")
    print(f"  as-of exact: {len(customers) - len(differ)} of {len(customers)} customers")
    return round(1 - len(differ) / len(customers), 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100_000, help="events of each run")
    parser.add_argument(
        "--envelope-size",
        type=int,
        default=BACKFILL_ENVELOPE_SIZE,
        help="events per history record (default: stream-app backfill's)",
    )
    parser.add_argument("--days", type=float, default=365.0, help="history's span")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--no-write", dest="write", action="store_false")
    return report(parser.parse_args(argv), measure, "backfill")


if __name__ == "__main__":
    raise SystemExit(main())
