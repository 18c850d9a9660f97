"""Messy retail through the real worker: is the money exact, does guest revenue land on
the right customer, is valid input ever dead-lettered, and what does the mess cost?

1. **Exactness.** A messy-retail set (``stream_app.simulation.retail``: B2B invoices,
   odd item ids, currencies, week-old redeliveries, returns, guests and unlinked
   devices) is sent as it would arrive: in
   arrival order, phase by phase (12 h of event time, each drained before the next,
   so no topic runs ahead of another by more than the allowed lateness). Every
   customer's money is then read as the API reads profiles and compared with the
   simulator's truth: ``commerce.net_spend_exact``, ``commerce.guest_revenue_attributed``,
   ``commerce.valid_events_dead_lettered``.
2. **Contracts.** ``commerce.schema_disagreements``: the corpus through the published
   schemas and the decoder (``bench.contracts``).
3. **Throughput.** The same number of plain simulated events and of messy ones, as
   single-event backlogs, each drained by a fresh worker (``bench.profiles``' runs),
   taking turns: ``commerce.events_per_s`` beside ``commerce.plain_events_per_s``, and
   ``commerce.events_per_s_ratio``, the median of each round's messy/plain (>= 0.8
   wanted), with the worker's CPU per event of each.
   Both runs admit lateness up to the span, so they time the apply path, not the late
   topic.

    python -m bench.commerce [--customers 400 --events 60000 --no-returns --no-guests --no-devices]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import islice
from pathlib import Path
from statistics import median
from typing import Any

from redis.asyncio import Redis

from bench.common import finish, pack_records, produce, pyplot, save_figure
from bench.common import scratch_stack as scratch
from bench.contracts import CORPUS_NOW, disagreements, load_corpus
from bench.profiles import Rate, run_pipeline
from bench.throughput import run_settings
from stream_app.api.routes_profiles import profile_at
from stream_app.devstack.stack import EmbeddedStack
from stream_app.devstack.workers import worker_process
from stream_app.events.registry import Stream
from stream_app.kafka_topics import ensure_topics
from stream_app.producers.producer import EventProducer
from stream_app.profiles.derive import ValueRules
from stream_app.profiles.state import ProfileState
from stream_app.segments.rules import SegmentRules
from stream_app.settings import Settings
from stream_app.simulation.catalog import FX_PER_EUR, make_catalog
from stream_app.simulation.generator import EventGenerator
from stream_app.simulation.money import minor_digits, scale
from stream_app.simulation.population import make_population
from stream_app.simulation.retail import Arrival, RetailMix, RetailSet, make_retail_set
from stream_app.storage.configured import keys_of, profile_store
from stream_app.storage.connection import redis_client
from stream_app.storage.statfields import parse_stat_name

#: Event time sent per phase of the exactness run (below the default allowed lateness).
PHASE = timedelta(hours=12)
SPAN = timedelta(days=6)


@dataclass(frozen=True, slots=True)
class Spend:
    """A customer's money in one currency as stored, in minor units."""

    gross: int
    returned: int = 0

    @property
    def net(self) -> int:
        return self.gross - self.returned


def shown_money(state: ProfileState, now: datetime, rules: ValueRules) -> dict[str, Spend]:
    """Per currency, the money the API's profile endpoint shows for ``state`` (its
    ``Profile`` model of the derived view; no segments), in minor units."""
    profile = profile_at(state, now, rules, SegmentRules(()))
    return {
        cur: Spend(_minor(shown.gross, cur), _minor(shown.returned, cur))
        for cur, shown in profile.value.spend.items()
    }


def _minor(text: str, currency: str) -> int:
    """Exact decimal text (``"12.34"``) in minor units; anything finer is an error."""
    minor = Decimal(text).scaleb(minor_digits(currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"{text} {currency} is not a whole number of minor units")
    return int(minor)


async def read_money(
    redis: Redis, settings: Settings, customers: Sequence[str]
) -> dict[str, dict[str, Spend]]:
    """Every customer's money as the API shows it (read with the API's profile store)."""
    store = profile_store(redis, settings)
    rules = settings.profiles.value_rules()
    now = datetime.now(UTC)
    found: dict[str, dict[str, Spend]] = {}
    for start in range(0, len(customers), 500):
        chunk = customers[start : start + 500]
        for cid, state in zip(chunk, await store.stored(chunk), strict=True):
            found[cid] = shown_money(state, now, rules) if state.exists else {}
    return found


@dataclass(frozen=True, slots=True)
class Figures:
    """What a messy-retail run ended with (None: the set had no guest revenue)."""

    net_spend_exact: float
    guest_revenue_attributed: float | None
    valid_events_dead_lettered: int
    mismatches: list[str]
    #: What became of the events sent (applied, duplicate, late, dead_letters).
    outcomes: dict[str, int]


def _eur(minor: int, currency: str) -> float:
    return minor / scale(currency) / FX_PER_EUR[currency]


def score(
    rset: RetailSet, money: Mapping[str, Mapping[str, Spend]], outcomes: dict[str, int]
) -> Figures:
    """Compare the stored money with the truth: net per currency exactly, and how much
    of each customer's guest spend (in EUR at the simulator's rates) reached them."""
    truth = rset.truth
    exact = 0
    mismatches = []
    for cid in rset.customers:
        want = {cur: n for cur, n in truth.net(cid).items() if n}
        have = {cur: s.net for cur, s in money.get(cid, {}).items() if s.net}
        if want == have:
            exact += 1
        else:
            mismatches.append(f"{cid}: net expected {want}, stored {have}")
    owed = landed = 0.0
    for cid, guest in truth.guest.items():
        for cur, minor in guest.items():
            known = truth.gross[cid][cur] - minor
            arrived = money.get(cid, {}).get(cur, Spend(0)).gross - known
            owed += _eur(minor, cur)
            landed += _eur(max(0, min(minor, arrived)), cur)
    return Figures(
        exact / max(1, len(rset.customers)),
        landed / owed if owed else None,
        outcomes.get("dead_letters", 0),
        mismatches,
        outcomes,
    )


async def stats(redis: Redis, settings: Settings) -> dict[str, int]:
    raw = await redis.hgetall(keys_of(settings).stats())
    return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}


def done(counts: Mapping[str, int]) -> int:
    """Events the worker is done with (applied, duplicate, late or dead-lettered)."""
    return sum(n for name, n in counts.items() if parse_stat_name(name)[0] == "events_in")


def outcomes(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """What became of the events counted between two reads of the stats."""
    grown: dict[str, int] = {}
    for name, n in after.items():
        kind = parse_stat_name(name)[0]
        if kind in ("events_applied", "events_duplicate", "events_late", "dead_letters"):
            kind = kind.removeprefix("events_")
            grown[kind] = grown.get(kind, 0) + n - before.get(name, 0)
    return grown


def phases(arrivals: Sequence[Arrival], length: timedelta) -> Iterator[list[Arrival]]:
    """Consecutive arrivals, ``length`` of arrival time each."""
    if not arrivals:
        return
    bound = arrivals[0].at + length
    batch: list[Arrival] = []
    for arrival in arrivals:
        if arrival.at >= bound:
            yield batch
            batch = []
            while arrival.at >= bound:
                bound += length
        batch.append(arrival)
    yield batch


async def send_phased(
    settings: Settings, redis: Redis, rset: RetailSet, mix: RetailMix, *, within: float
) -> None:
    """Send ``rset`` phase by phase, each drained before the next. Within a phase, the
    readings of unlinked devices go (and are done with) before the traits that link
    them when ``mix.devices`` is on (parked until their link); otherwise identity events
    go first, so that no reading waits for its link."""
    target = done(await stats(redis, settings))
    async with EventProducer(
        settings, client_id="bench-commerce", max_request_size=4_000_000
    ) as producer:
        for phase in phases(rset.arrivals, PHASE):
            if mix.devices:
                first = [a for a in phase if a.event.event_id in rset.ahead_of_link]
            else:
                first = [a for a in phase if a.stream is Stream.IDENTITY]
            chosen = {id(a) for a in first}
            for group in (first, [a for a in phase if id(a) not in chosen]):
                for arrival in group:
                    await producer.send(arrival.event)
                await producer.flush()
                target += len(group)
                await _drained(redis, settings, target, within)


async def _drained(redis: Redis, settings: Settings, target: int, within: float) -> None:
    deadline = time.monotonic() + within
    while (seen := done(await stats(redis, settings))) < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the worker is done with {seen} events, waited for {target}")
        await asyncio.sleep(0.05)


async def exactness_run(
    settings: Settings, redis: Redis, rset: RetailSet, mix: RetailMix, *, within: float = 120.0
) -> Figures:
    """Send ``rset`` through a running worker and score what it stored."""
    before = await stats(redis, settings)
    await send_phased(settings, redis, rset, mix, within=within)
    grown = outcomes(before, await stats(redis, settings))
    return score(rset, await read_money(redis, settings, rset.customers), grown)


def schema_disagreements(settings: Settings) -> int:
    """``bench.contracts``' disagreements over the corpus, with this run's limits."""
    return len(disagreements(load_corpus(), settings.worker.decode_limits(), CORPUS_NOW))


# --- the bench ---------------------------------------------------------------------


def _exactness(
    stack: EmbeddedStack, workdir: Path, rset: RetailSet, mix: RetailMix
) -> tuple[Figures, int]:
    settings = run_settings(stack, workdir, "bench-commerce", "commerce", "commerce")
    asyncio.run(ensure_topics(settings))

    async def run() -> Figures:
        redis = redis_client(settings)
        try:
            return await exactness_run(settings, redis, rset, mix, within=300.0)
        finally:
            await redis.aclose()

    with worker_process(settings, workdir / "logs", name="commerce-worker"):
        figures = asyncio.run(run())
    return figures, schema_disagreements(settings)


def _drain(stack: EmbeddedStack, workdir: Path, name: str, events: Sequence[Any]) -> Rate:
    """A fresh worker's rate over a backlog of ``events`` (``(stream, event)``) on topics
    and keys of its own (``name``)."""
    settings = run_settings(stack, workdir, f"bench-{name}", name, name)
    settings = settings.updated(profiles={"allowed_lateness": SPAN + timedelta(days=1)})
    asyncio.run(ensure_topics(settings))
    produce(stack.kafka_bootstrap, pack_records(events, settings.topics, 1))
    rate, _, _ = run_pipeline(settings, len(events), workdir / "logs", 600.0, stack.pids, 0)
    cpu = ", ".join(f"{p} {us:.0f}" for p, us in sorted(rate.cpu_us_per_event().items()))
    print(f"{name}: {rate.events:,} events in {rate.elapsed_s:.1f} s; CPU us/event: {cpu}")
    return rate


@dataclass(frozen=True, slots=True)
class Rates:
    """Plain and messy drains taking turns: medians of each, and of the ratio of the
    two drains of one round (this VM's speed moves by 2x within minutes, so only a
    pair run back to back compares)."""

    plain_per_s: float
    messy_per_s: float
    ratio: float
    #: The worker's CPU per event (user + system): steadier than wall time here.
    plain_cpu_us: float
    messy_cpu_us: float


def rates(
    stack: EmbeddedStack, workdir: Path, plain: Sequence[Any], messy: Sequence[Any], rounds: int
) -> Rates:
    """``rounds`` drains of each set, each on fresh topics and keys, plain first in even
    rounds and messy first in odd ones (a drift of the VM's speed within a round then
    favours neither)."""
    runs: dict[str, list[Rate]] = {"plain": [], "messy": []}
    for round_ in range(rounds):
        pair = [("plain", plain), ("messy", messy)]
        for name, events in pair[:: 1 if round_ % 2 == 0 else -1]:
            runs[name].append(_drain(stack, workdir, f"{name}{round_}", events))
    pairs = zip(runs["plain"], runs["messy"], strict=True)
    return Rates(
        median(r.events_per_s for r in runs["plain"]),
        median(r.events_per_s for r in runs["messy"]),
        median(m.events_per_s / p.events_per_s for p, m in pairs),
        median(r.cpu_us_per_event()["consumer"] for r in runs["plain"]),
        median(r.cpu_us_per_event()["consumer"] for r in runs["messy"]),
    )


def plain_events(customers: int, events: int, seed: int, end: datetime) -> list[Any]:
    """The plain simulator's traffic over the same span: the rate to compare with."""
    generator = EventGenerator(
        make_population(customers, seed),
        make_catalog(seed),
        seed,
        end - SPAN,
        events / SPAN.total_seconds(),
    )
    return list(islice(generator, events))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every ``commerce.*`` figure of one run."""
    mix = RetailMix(returns=args.returns, guests=args.guests, devices=args.devices)
    end = datetime.now(UTC) - timedelta(minutes=1)
    rset = make_retail_set(args.customers, args.events, args.seed, end, SPAN, mix)
    messy = [(a.stream, a.event) for a in rset.arrivals]
    plain_set = plain_events(args.customers, len(messy), args.seed, end)
    with scratch("stream-app-commerce-") as (workdir, stack):
        figures, schema = _exactness(stack, workdir, rset, mix)
        speed = rates(stack, workdir, plain_set, messy, args.rounds)
    for line in figures.mismatches[:20]:
        print("mismatch:", line)
    print(f"exactness run: {figures.outcomes}")
    return {
        "commerce.net_spend_exact": figures.net_spend_exact,
        "commerce.guest_revenue_attributed": figures.guest_revenue_attributed,
        "commerce.valid_events_dead_lettered": figures.valid_events_dead_lettered,
        "commerce.schema_disagreements": schema,
        **{f"commerce.sent.{kind}": n for kind, n in sorted(figures.outcomes.items())},
        "commerce.events_per_s": round(speed.messy_per_s),
        "commerce.plain_events_per_s": round(speed.plain_per_s),
        "commerce.events_per_s_ratio": round(speed.ratio, 3),
        "commerce.worker_cpu_us_per_event": round(speed.messy_cpu_us, 1),
        "commerce.plain_worker_cpu_us_per_event": round(speed.plain_cpu_us, 1),
        "commerce.customers": args.customers,
        "commerce.events": len(messy),
        "commerce.switches": ",".join(
            name for name in ("returns", "guests", "devices") if getattr(mix, name)
        )
        or "none",
        **{f"commerce.set.{name.replace(':', '_')}": n for name, n in sorted(rset.counts.items())},
    }


def plot(results: Mapping[str, Any]) -> Path:
    """Messy vs plain events/s, the exactness figures in the title."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = ("plain simulator", "messy retail")
    rates = (results["commerce.plain_events_per_s"], results["commerce.events_per_s"])
    ax.bar(names, rates, color=("#888888", "#1f77b4"))
    for x, rate in enumerate(rates):
        ax.text(x, rate, f"{rate:,}/s", ha="center", va="bottom")
    ax.set_ylabel("events/s (single-event records, one worker)")
    attributed = results["commerce.guest_revenue_attributed"]
    ax.set_title(
        f"net spend exact {results['commerce.net_spend_exact']:.3f}, guest revenue "
        f"{'n/a' if attributed is None else f'{attributed:.3f}'}, valid dead-lettered "
        f"{results['commerce.valid_events_dead_lettered']}, schema disagreements "
        f"{results['commerce.schema_disagreements']}",
        fontsize=8,
    )
    return save_figure(fig, "commerce")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--events", type=int, default=60_000, help="ordinary events")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=5, help="drains of each set (medians kept)")
    for name in ("returns", "guests", "devices"):
        parser.add_argument(
            f"--{name}",
            action=argparse.BooleanOptionalAction,
            default=getattr(RetailMix(), name),
            help="include this part of the messy set (RetailMix)",
        )
    parser.add_argument("--no-write", dest="write", action="store_false")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = measure(args)
    for name, value in results.items():
        print(f"{name} = {value}")
    return finish(results, [plot(results)], write=args.write, started=started, what="commerce")


if __name__ == "__main__":
    raise SystemExit(main())
