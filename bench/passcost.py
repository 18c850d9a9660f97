"""What the one pass costs per event, in process, for the plain simulator's traffic and
the messy-retail set (all of it, none of the switches, each switch alone).

No broker and no Faust: each set's records are handed to ``OnePass.records`` in
batches, as the transport would, against a real Redis of a scratch stack, with the
worker's own GC settings; decisions go nowhere. The sets take turns (plain, messy,
messy, plain, ...), each on keys of its own, and the medians of the process CPU per
event are printed, with the median of each round's ratio to plain: the
worker's CPU without the consumer's fetch, the broker or the VM's wall-time moods.
``--profile DIR`` also writes a cProfile of each drain (compare two with ``pstats``).

    python -m bench.passcost [--events 60000 --rounds 3 --sets plain,messy,none]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

from bench.commerce import SPAN, plain_events
from bench.common import pack_records
from bench.common import scratch_stack as scratch
from bench.throughput import run_settings
from stream_app.cli.worker import tune_gc
from stream_app.settings import Settings
from stream_app.simulation.retail import RetailMix, make_retail_set
from stream_app.streaming.publisher import OutRecord
from stream_app.streaming.wiring import build_engine

#: The messy set's variants by name: which switches are on.
MIXES = {
    "messy": RetailMix(),
    "none": RetailMix(returns=False, guests=False, devices=False),
    "returns": RetailMix(guests=False, devices=False),
    "guests": RetailMix(returns=False, devices=False),
    "devices": RetailMix(returns=False, guests=False),
}


@dataclass(frozen=True, slots=True)
class Consumed:
    """A record as the transport hands it to the pass."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None


class Nowhere:
    """A publisher that drops what it is given (no broker in this measurement)."""

    async def publish(self, records: Sequence[OutRecord]) -> None:
        return None


async def drain(
    settings: Settings, records: Sequence[Consumed], batch: int, profile: cProfile.Profile | None
) -> float:
    """Process CPU seconds the pass spends on ``records``, ``batch`` at a time."""
    engine = build_engine(settings, publisher=Nowhere())
    tune_gc()
    try:
        started = time.process_time()
        if profile is not None:
            profile.enable()
        for start in range(0, len(records), batch):
            await engine.one_pass.records(records[start : start + batch])
        if profile is not None:
            profile.disable()
        return time.process_time() - started
    finally:
        await engine.stores.redis.aclose()


def event_sets(names: Sequence[str], events: int, seed: int, end: datetime) -> dict[str, Any]:
    """Each named set's ``(stream, event)`` pairs; plain has as many as the full messy set."""
    made = {
        name: [
            (a.stream, a.event) for a in make_retail_set(400, events, seed, end, SPAN, mix).arrivals
        ]
        for name, mix in MIXES.items()
        if name in names or (name == "messy" and "plain" in names)
    }
    made["plain"] = plain_events(400, len(made["messy"]), seed, end)
    return {name: made[name] for name in names}


def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    """CPU us per event of every drain, by set, in the order they ran."""
    names = args.sets.split(",")
    sets = event_sets(names, args.events, args.seed, datetime.now(UTC) - timedelta(minutes=1))
    cpu: dict[str, list[float]] = {name: [] for name in names}
    with scratch("stream-app-passcost-") as (workdir, stack):
        for round_ in range(args.rounds):
            order = names if round_ % 2 == 0 else names[::-1]
            for name in order:
                run = f"{name}{round_}"
                settings = run_settings(stack, workdir, f"bench-{run}", run, run)
                settings = settings.updated(profiles={"allowed_lateness": SPAN + timedelta(days=1)})
                packed = pack_records(sets[name], settings.topics, 1)
                records = [Consumed(r.topic, 0, n, r.value, r.key) for n, r in enumerate(packed)]
                profile = cProfile.Profile() if args.profile else None
                seconds = asyncio.run(drain(settings, records, args.batch, profile))
                cpu[name].append(seconds * 1e6 / len(records))
                print(f"{run}: {len(records):,} events, {cpu[name][-1]:.1f} us/event", flush=True)
                if profile is not None:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    profile.dump_stats(args.profile / f"{run}.prof")
    return cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=60_000, help="ordinary events")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500, help="records per pass")
    parser.add_argument("--sets", default="plain,messy", help=f"plain and any of {list(MIXES)}")
    parser.add_argument("--profile", type=Path, default=None, help="write cProfiles here")
    args = parser.parse_args(argv)
    cpu = measure(args)
    plain = cpu.get("plain")
    for name, runs in cpu.items():
        line = f"{name}: median {median(runs):.1f} us/event over {len(runs)} drains"
        if plain is not None and name != "plain":
            ratios = [m / p for p, m in zip(plain, runs, strict=True)]
            line += f"; CPU vs plain of the same round, median {median(ratios):.3f}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
