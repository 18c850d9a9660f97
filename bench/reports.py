"""The funnel and cohort reports against a recount from the raw events (issue 19).

``--events`` simulated events of ``--customers`` customers over ``--weeks`` weeks (with
referrals; no sensor readings, whose device links other tests cover) go through a real
worker on the embedded stack: the newer two thirds live in time order, ``--redeliver`` of
them sent a second time a little later, then the older third as a backfill (marked
records, some of them twice too), which moves customers to earlier cohorts. The counters
the worker kept (``storage.funnel``) are compared with the report computed from the
events in plain Python (``tests.oracle.funnel``: no fold, no profile):
``reports.funnel_exact`` (stage cells) and ``reports.cohorts_exact`` (retention cells
``r<k>``), the fractions of cells equal: 1.0.

    python -m bench.reports [--customers 300 --events 20000 --weeks 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from bench.backfill import produce_marked
from bench.common import Record, pack_records, produce, report
from bench.common import scratch_stack as scratch
from bench.profiles import run_pipeline
from bench.throughput import run_settings
from stream_app.events.registry import Event, Stream
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.simulation.catalog import make_catalog
from stream_app.simulation.generator import EventGenerator, Mix
from stream_app.simulation.population import make_population
from stream_app.storage.configured import keys_of
from stream_app.storage.connection import redis_client
from stream_app.storage.funnel import FunnelStore
from tests.oracle.funnel import Definitions, exact_fraction, expected_counts


def simulate(args: argparse.Namespace, end: datetime) -> list[tuple[Stream, Event]]:
    """The events, in event time, with no sensor readings."""
    span = timedelta(weeks=args.weeks)
    generator = EventGenerator(
        make_population(args.customers, args.seed),
        make_catalog(args.seed),
        args.seed,
        end - span,
        args.events / span.total_seconds(),
        mix=Mix(sensor_share=0.0),
    )
    return list(islice(generator, args.events))


def with_redeliveries(records: Sequence[Record], share: float, rng: random.Random) -> list[Record]:
    """``records`` with ``share`` of them sent again a few dozen records later."""
    out = list(records)
    for index in sorted(rng.sample(range(len(records)), int(len(records) * share)), reverse=True):
        out.insert(min(len(out), index + rng.randrange(1, 50)), records[index])
    return out


async def counters(settings: Settings) -> dict[str, int]:
    redis = redis_client(settings)
    try:
        return await FunnelStore(redis, keys_of(settings), settings.funnel.period).read()
    finally:
        await redis.aclose()


def measure(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    end = datetime.now(UTC) - timedelta(minutes=1)
    with scratch("stream-app-reports-") as (workdir, stack):
        age = timedelta(weeks=args.weeks, days=2)
        # History older than the allowed lateness behind a live profile would be late
        # (the cut-over's order is history first): here it must apply, out of order.
        settings = run_settings(stack, workdir, "bench-reports", "rep", "reports").updated(
            worker={"max_event_age": age}, profiles={"allowed_lateness": age}
        )
        events = simulate(args, end)
        cut = len(events) // 3
        history = pack_records(events[:cut], settings.topics, 1)
        live = pack_records(events[cut:], settings.topics, 1)
        live = with_redeliveries(live, args.redeliver, rng)
        history = with_redeliveries(history, args.redeliver, rng)
        asyncio.run(ensure_topics(settings))
        produce(stack.kafka_bootstrap, live)
        produce_marked(stack.kafka_bootstrap, history)
        total = sum(r.events for r in (*live, *history))
        print(f"{len(events):,} events, {total:,} sent (live, history, redeliveries)")
        run_pipeline(settings, total, workdir / "logs", args.timeout, stack.pids, 0.0)
        got = asyncio.run(counters(settings))
    pairs = [(e.customer_id, e) for _, e in events if e.customer_id is not None]
    want = expected_counts(pairs, Definitions.from_settings(settings))
    cohorts = {name for name in want.keys() | got.keys() if name.rsplit("|", 1)[1][0] == "r"}
    stages = (want.keys() | got.keys()) - cohorts
    return {
        "reports.events": len(events),
        "reports.customers": sum(n for k, n in want.items() if k.endswith("|acquisition")),
        "reports.referrals": sum(1 for _, e in events if e.type == "referral"),
        "reports.cells": len(want),
        "reports.funnel_exact": _exact(want, got, stages),
        "reports.cohorts_exact": _exact(want, got, cohorts),
    }


def _exact(want: dict[str, int], got: dict[str, int], names: set[str]) -> float:
    """The fraction of ``names``' cells with equal counts."""
    mine = {n: want.get(n, 0) for n in names}
    return round(exact_fraction(mine, {n: got.get(n, 0) for n in names}), 6)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--weeks", type=int, default=10)
    parser.add_argument("--redeliver", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--timeout", type=float, default=240.0)
    parser.add_argument("--no-write", dest="write", action="store_false")
    return report(parser.parse_args(argv), measure, "reports")


if __name__ == "__main__":
    raise SystemExit(main())
