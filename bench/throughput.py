"""Throughput and latency benchmark: the worker against bare Faust on the embedded stack.

Every consumer fetches with the worker's fetch settings (``faust_app``), and only one
runs at a time (2 cores), but in the two-worker run:

1. **Throughput**: a simulated backlog, generated before any clock starts, drained by
   a fresh consumer group each (``bench.profiles``' runs: rates from the first
   consumed event to the last). Bare Faust (decode only, per-record messages,
   ``bench.bare_faust``) and the worker, on single-event records and on envelopes;
   the worker's Redis round trips per batch come from its histogram over the same
   interval.
2. **Latency**: a pacing producer offers pre-encoded single-event records at fixed
   rates, each event stamped with the moment it was due to be sent, so a producer
   falling behind counts as latency. Bare Faust (``bench.latency_agents``) at 1k
   events/s gives the floor; one worker then takes steps of 1k, 2k, ... events/s,
   above the first one it does not sustain only the 3k headline step. Percentiles
   come from the histograms' bucket deltas between a scrape before and after each step.
   The paced stream has more catalog updates than the simulator's default (price drops
   and restocks to time), and the worker's cart and browse idle times are cut to
   seconds, so that the timer's checks fall due within the run.

    python -m bench.throughput [--events 60000 --skip-two-workers --skip-latency]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from bench.common import (
    LATEST_JSON,
    REPO_ROOT,
    BenchError,
    Record,
    finish,
    make_event_set,
    pack_records,
    produce,
    pyplot,
    raw_producer,
    read_json,
    save_figure,
    wait_for,
)
from bench.latency_agents import BARE_EVENTS, BARE_LATENCY
from bench.profiles import _DONE_PREFIXES, Rate, bench_settings, cpu_seconds, run_bare
from bench.profiles import run_pipeline as run_worker
from stream_app.devstack.ports import free_port
from stream_app.devstack.processes import ManagedProcess
from stream_app.devstack.stack import EmbeddedStack
from stream_app.devstack.workers import worker_process
from stream_app.kafka_topics import ensure_topics
from stream_app.metrics.quantiles import histogram_quantile, percentile
from stream_app.metrics.scrape import Reading, parse_metrics
from stream_app.settings import Settings
from stream_app.simulation.catalog import make_catalog
from stream_app.simulation.generator import EventGenerator, Mix
from stream_app.simulation.population import make_population
from stream_app.storage.configured import keys_of

#: Event time written into pre-encoded records, replaced by the due time at send.
SENTINEL_TIME = datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
SENTINEL = b'"2001-02-03T04:05:06.789012Z"'
APPLY = "stream_app_event_apply_latency_seconds"
TRIGGER = "stream_app_trigger_to_decision_seconds"
TIMER = "stream_app_timer_lateness_seconds"
ROUND_TRIPS = "stream_app_redis_round_trips"
HISTOGRAMS = (APPLY, TRIGGER, TIMER, ROUND_TRIPS, BARE_LATENCY)
#: Triggers decided in the pass that applies their event: nothing to wait for (no idle
#: time, no due time), so their latency is the pipeline's.
IMMEDIATE = frozenset(
    {"geofence", "segment_entry", "price_drop", "back_in_stock", "replenishment", "win_back"}
)
#: Observations of a trigger kind in a step below which its p99 is noise, not a figure.
MIN_OBSERVATIONS = 20
#: A step is kept up with when its backlog is gone this soon after the last send and
#: the achieved rate is within 5 % of the offered one; sustained if triggers kept up too.
DRAIN_LIMIT_S = 2.0
ACHIEVED_SHARE = 0.95
SUSTAINED_TRIGGER_P99_MS = 500.0
#: Steps measured even above a step that was not sustained (their keys are headlines).
HEADLINE_RATES = (1000, 3000)
WARMUP_RATE = 3000
Metric = tuple[str, str]  # (histogram, its ``trigger`` label or "")


# --- settings and metrics --------------------------------------------------------


def run_settings(
    stack: EmbeddedStack, workdir: Path, app_id: str, prefix: str, suffix: str
) -> Settings:
    """``bench_settings`` with its own topics, Redis key prefix and a free metrics port,
    so runs over one stack never see each other's events or counters."""
    base = bench_settings(stack, workdir, app_id)
    topics = {name: f"{value}.{suffix}" for name, value in base.topics.model_dump().items()}
    return base.updated(
        topics=type(base.topics)(**topics),
        redis={"key_prefix": prefix},
        metrics={"port": free_port()},
    )


def rounded(ms: float | None) -> float | None:
    """A latency for ``latest.json``: 0.1 ms is below what a bucket estimate resolves."""
    return None if ms is None else round(ms, 1)


@dataclass(frozen=True, slots=True)
class Quantiles:
    """Latency percentiles in ms of what a histogram observed between two scrapes
    (PromQL's estimate, linear within a bucket); None when nothing was observed."""

    count: int
    p50_ms: float | None
    p99_ms: float | None

    def keys(self, prefix: str) -> dict[str, Any]:
        return {
            f"{prefix}_p50_ms": rounded(self.p50_ms),
            f"{prefix}_p99_ms": rounded(self.p99_ms),
            f"{prefix}_count": self.count,
        }

    def __str__(self) -> str:
        if not self.count:
            return "n=0"
        return f"p50 {self.p50_ms:,.1f} / p99 {self.p99_ms:,.1f} ms (n={self.count:,})"


@dataclass(frozen=True, slots=True)
class Metrics:
    """One scrape of a consumer's ``/metrics`` (``parse_metrics`` of the histograms the
    bench reads), and what it observed since an earlier one."""

    reading: Reading

    def buckets(self, metric: Metric) -> dict[float, float]:
        histogram, trigger = metric
        if trigger:
            return self.reading.by_trigger.get(metric, {})
        return self.reading.histograms.get(histogram, {})

    def since(self, before: Metrics, metric: Metric) -> Quantiles:
        old = before.buckets(metric)
        delta = [(le, n - old.get(le, 0.0)) for le, n in self.buckets(metric).items()]
        count = round(max((n for _, n in delta), default=0.0))
        p50, p99 = (histogram_quantile(q, delta) for q in (0.5, 0.99))
        return Quantiles(count, p50 and 1000 * p50, p99 and 1000 * p99)

    def mean_since(self, before: Metrics, histogram: str) -> float:
        def grown(sample: str) -> float:
            return self.reading.totals.get(sample, 0.0) - before.reading.totals.get(sample, 0.0)

        count = grown(f"{histogram}_count")
        return grown(f"{histogram}_sum") / count if count else math.nan

    def share_within(self, before: Metrics, histogram: str, bound: float) -> float:
        """The share of what ``histogram`` observed since ``before`` that was <= ``bound``
        (one of its bucket bounds)."""
        old, new = before.buckets((histogram, "")), self.buckets((histogram, ""))
        count = new.get(math.inf, 0.0) - old.get(math.inf, 0.0)
        return (new.get(bound, 0.0) - old.get(bound, 0.0)) / count if count else math.nan

    def triggers(self) -> list[str]:
        return sorted({label for name, label in self.reading.by_trigger if name == TRIGGER})


def scrape(port: int | None) -> Metrics:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
            return Metrics(parse_metrics(reply.read().decode(), HISTOGRAMS))
    except OSError as exc:
        raise BenchError(f"/metrics on port {port} does not answer: {exc}") from exc


def events_in(port: int | None, counter: str = "stream_app_events_total") -> int:
    """A consumer's count of events in (0 while its ``/metrics`` does not answer yet)."""
    with contextlib.suppress(BenchError):
        return round(scrape(port).reading.totals.get(counter, 0.0))
    return 0


def done_counter(settings: Settings) -> tuple[redis.Redis, Callable[[], int]]:
    """A Redis client and a function counting the events a worker is done with under
    ``settings.redis.key_prefix`` (as ``bench.profiles`` counts them, from the stats hash)."""
    client = redis.Redis.from_url(settings.redis.url, decode_responses=True)
    key = keys_of(settings).stats()

    def done() -> int:
        stats = client.hgetall(key).items()
        return sum(int(n) for name, n in stats if str(name).startswith(_DONE_PREFIXES))

    return client, done


class ForeignLoad:
    """How many cores processes not ours kept busy since it was made: another test run on
    the 2 cores disturbs every figure. Ours: this process, its children (counted by the
    kernel once reaped) and the stack's servers (still running)."""

    DISTURBED_CORES = 0.25

    def __init__(self, servers: Mapping[str, int]) -> None:
        self._servers = servers
        self._start = time.perf_counter(), *self._cpu()

    def _cpu(self) -> tuple[float, float]:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        machine = sum(int(fields[i]) for i in (1, 2, 3, 6, 7)) / os.sysconf("SC_CLK_TCK")
        t = os.times()
        ours = t.user + t.system + t.children_user + t.children_system
        return machine, ours + sum(cpu_seconds(self._servers).values())

    def cores(self) -> float:
        started, machine, ours = self._start
        machine_now, ours_now = self._cpu()
        other = max(0.0, machine_now - machine - (ours_now - ours))
        other /= time.perf_counter() - started
        if other > self.DISTURBED_CORES:
            print(f"  ** other processes kept {other:.2f} cores busy: figures disturbed **")
        return other


# --- throughput ----------------------------------------------------------------------


#: The backlog runs: key in ``latest.json`` (``throughput.<key>_events_per_s``) -> name.
RUNS = {
    "bare_faust": "bare Faust, single",
    "bare_faust_envelope": "bare Faust, envelopes",
    "single": "worker, single",
    "envelope": "worker, envelopes",
    "two_workers": "two workers, single",
}


@dataclass(frozen=True, slots=True)
class Throughput:
    rates: dict[str, Rate]
    #: Share of the events done before both of the two workers consumed (not measured).
    two_done_before_both: float | None
    round_trips_per_batch: float
    #: Share of batches that took at most two round trips (read, write).
    within_two_round_trips: float
    single_stats: dict[str, int]
    envelope_records: int
    other_cores: float


def run_two_workers(
    settings: Sequence[Settings],
    events: int,
    log_dir: Path,
    timeout: float,
    servers: Mapping[str, int],
) -> tuple[Rate, float]:
    """Two workers of one group drain the backlog, measured once both consume."""
    client, done = done_counter(settings[0])
    workers = [worker_process(s, log_dir, name=f"worker-{i + 1}") for i, s in enumerate(settings)]
    spawned = time.perf_counter()
    try:
        with contextlib.ExitStack() as running:
            for worker in workers:
                running.enter_context(worker)

            def both_consume() -> bool:
                for worker in workers:
                    if worker.exit_status() is not None:
                        raise BenchError(f"{worker.name} exited:\n{worker.log_tail()}")
                if done() >= events:
                    raise BenchError("one worker drained the backlog before both consumed")
                return all(events_in(s.metrics.port) > 0 for s in settings)

            first_at = wait_for("both workers to consume", both_consume, timeout, interval=0.05)
            first_count = done()
            pids = {w.name: w.pid or 0 for w in workers} | dict(servers)
            cpu_first = cpu_seconds(pids)
            last_at = wait_for(
                "two workers to apply every event", lambda: done() >= events, timeout, interval=0.05
            )
            last_count = done()
            cpu_last = cpu_seconds(pids)
    finally:
        client.close()
    cpu = {name: cpu_last[name] - cpu_first[name] for name in cpu_first}
    rate = Rate(last_count - first_count, last_at - first_at, first_at - spawned, cpu)
    return rate, first_count / events


def measure_throughput(stack: EmbeddedStack, workdir: Path, args: argparse.Namespace) -> Throughput:
    """The backlog runs, each by a fresh consumer group from the start of its topics."""
    logs = workdir / "logs"
    servers = stack.pids
    foreign = ForeignLoad(servers)
    single = run_settings(stack, workdir, "tp-bare", "tpb", "single")
    env = run_settings(stack, workdir, "tp-bare-env", "tpbe", "env")
    span = timedelta(hours=args.span_hours)
    data = make_event_set(
        single.topics, customers=args.customers, events=args.events, seed=args.seed, span=span
    )
    env_data = make_event_set(
        env.topics,
        customers=args.customers,
        events=args.envelope_events,
        seed=args.seed,
        span=span,
        envelope_size=args.envelope_size,
    )
    print(
        f"generated {data.events:,} single events and {env_data.events:,} events in "
        f"{len(env_data.records):,} envelopes in {data.generate_s + env_data.generate_s:.1f} s"
    )
    for settings, records in ((single, data.records), (env, env_data.records)):
        asyncio.run(ensure_topics(settings))
        produce(stack.kafka_bootstrap, records)

    rates: dict[str, Rate] = {}

    def measured(label: str, rate: Rate) -> None:
        rates[label] = rate
        print(f"  {RUNS[label]}: {rate.events_per_s:,.0f} events/s")

    measured("bare_faust", run_bare(single, data.events, logs / "bare", args.timeout, servers))
    bare_env = run_bare(env, env_data.events, logs / "bare-env", args.timeout, servers)
    measured("bare_faust_envelope", bare_env)
    one = run_settings(stack, workdir, "tp-single", "tps", "single")
    edges: list[Metrics] = []  # the worker's metrics when its measured interval starts, ends

    def at_edges() -> None:
        edges.append(scrape(one.metrics.port))

    rate, stats, _ = run_worker(
        one, data.events, logs / "single", args.timeout, servers, 0, at_edges
    )
    measured("single", rate)
    trips = edges[1].mean_since(edges[0], ROUND_TRIPS)
    within_two = edges[1].share_within(edges[0], ROUND_TRIPS, 2.0)
    env_run = run_settings(stack, workdir, "tp-env", "tpe", "env")
    rate, _, _ = run_worker(env_run, env_data.events, logs / "env", args.timeout, servers, 0)
    measured("envelope", rate)
    before = None
    if not args.skip_two_workers:
        first = run_settings(stack, workdir, "tp-two", "tp2", "single")
        second = first.updated(
            metrics={"port": free_port()}, worker={"data_dir": f"{first.worker.data_dir}-2"}
        )
        two = [first, second]
        rate, before = run_two_workers(two, data.events, logs / "two", args.timeout, servers)
        measured("two_workers", rate)
    return Throughput(
        rates, before, trips, within_two, stats, len(env_data.records), foreign.cores()
    )


# --- latency -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offered:
    """What the pacing producer did: ``behind_ms_p99`` is how late sends were against
    their schedule (the events carry the scheduled time, so lateness counts as latency)."""

    events: int
    records: int
    started_wall: float
    send_s: float
    behind_ms_max: float
    behind_ms_p99: float


def offer(bootstrap: str, records: Sequence[Record], rate: float) -> Offered:
    """Send ``records`` at ``rate`` events/s, each stamped with the time it is due.

    A ``raw_producer`` lingering 1 ms, as the latency figures were always taken:
    ``EventProducer`` would validate and re-batch each record behind its own
    linger, adding its delay to every measured latency."""
    return asyncio.run(_offer(bootstrap, records, rate))


def _stamp(wall: float) -> bytes:
    text = datetime.fromtimestamp(wall, UTC).isoformat(timespec="microseconds")
    return b'"' + text.replace("+00:00", "Z").encode() + b'"'


async def _offer(bootstrap: str, records: Sequence[Record], rate: float) -> Offered:
    producer = raw_producer(bootstrap, "stream-app-bench-pacer", linger_ms=1)
    await producer.start()
    try:
        due: list[float] = []
        events = 0
        for record in records:
            due.append(events / rate)
            events += record.events
        behind: list[float] = []
        futures: list[asyncio.Future[Any]] = []
        t0, wall0 = time.perf_counter(), time.time()
        index = 0
        while index < len(records):
            now = time.perf_counter() - t0
            while index < len(records) and due[index] <= now:
                record = records[index]
                value = record.value.replace(SENTINEL, _stamp(wall0 + due[index]))
                futures.append(await producer.send(record.topic, value, key=record.key))
                behind.append(now - due[index])
                index += 1
            if len(futures) > 5000:
                futures = [f for f in futures if not f.done()]
            if index < len(records):
                await asyncio.sleep(max(0.0, due[index] - (time.perf_counter() - t0)))
        send_s = time.perf_counter() - t0
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return Offered(
        events,
        len(records),
        wall0,
        send_s,
        1000 * max(behind, default=0.0),
        1000 * percentile(behind, 99) if behind else 0.0,
    )


def stamped_records(generator: EventGenerator, settings: Settings, events: int) -> list[Record]:
    """The generator's next ``events`` events as single-event records whose event time
    is the sentinel, replaced by the due time when they are sent."""
    generated = []
    for _ in range(events):
        stream, event = next(generator)
        generated.append((stream, event.model_copy(update={"event_time": SENTINEL_TIME})))
    return pack_records(generated, settings.topics, 1)


@dataclass(frozen=True, slots=True)
class Step:
    """One offered rate: what was sent, how the consumer kept up, what it observed."""

    rate: int
    offered: Offered
    drain_s: float
    #: Event -> profile applied (worker) or -> consumed (bare Faust).
    profile: Quantiles
    triggers: dict[str, Quantiles]
    timer: Quantiles
    cpu_share: dict[str, float]
    #: Share of the worker's passes (batches and timer claims) with <= 2 Redis round trips.
    within_two_round_trips: float = math.nan

    @property
    def achieved_events_per_s(self) -> float:
        return self.offered.events / (self.offered.send_s + self.drain_s)

    @property
    def kept_up(self) -> bool:
        return (
            self.drain_s <= DRAIN_LIMIT_S
            and self.achieved_events_per_s >= ACHIEVED_SHARE * self.rate
        )

    @property
    def trigger(self) -> tuple[str, Quantiles] | None:
        """The immediate trigger kind with the worst p99 (of those observed enough)."""
        kinds = [
            (kind, q)
            for kind, q in self.triggers.items()
            if kind in IMMEDIATE and q.count >= MIN_OBSERVATIONS
        ]
        return max(kinds, key=lambda kq: kq[1].p99_ms or 0.0, default=None)

    @property
    def sustained(self) -> bool:
        worst = self.trigger
        slow = worst is not None and (worst[1].p99_ms or 0.0) > SUSTAINED_TRIGGER_P99_MS
        return self.kept_up and not slow

    def line(self) -> str:
        verdict = "sustained" if self.sustained else "NOT sustained"
        lines = [
            f"  {self.rate:>5,}/s offered: {self.achieved_events_per_s:,.0f}/s achieved, drained "
            f"{self.drain_s:.2f} s after the last send (sent late p99 "
            f"{self.offered.behind_ms_p99:.0f} ms): {verdict}",
            f"      {'event -> applied (consumed)':<34} {self.profile}",
        ]
        if self.triggers:  # the worker
            for kind, q in sorted(self.triggers.items()):
                if q.count:
                    waits = "" if kind in IMMEDIATE else "  (waits: not in trigger p99)"
                    lines.append(f"      {kind + ' -> decision':<34} {q}{waits}")
            lines.append(f"      {'timer lateness':<34} {self.timer}")
            if self.trigger is None:
                lines.append(f"      no immediate trigger observed {MIN_OBSERVATIONS} times")
        cpu = ", ".join(f"{n} {share:.0%}" for n, share in self.cpu_share.items())
        lines.append(f"      CPU (share of a core): {cpu}")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Latency:
    bare: Step
    steps: list[Step]
    skipped: list[int]
    mix: Mix
    other_cores: float


def latency_mix(args: argparse.Namespace) -> Mix:
    return Mix(catalog_share=args.catalog_share, sensor_share=args.sensor_share)


def short_idle_campaigns(workdir: Path, idle_s: float) -> Path:
    """The campaigns with their idle times (cart and browse abandonment) cut to ``idle_s``,
    so that checks fall due during a run of seconds as they do, at the same rate, in a
    worker that has run for longer than the real idle times (30 min, 1 h)."""
    source = REPO_ROOT / "config" / "campaigns.toml"
    text, found = re.subn(r'\bidle = "[^"]+"', f'idle = "PT{idle_s:g}S"', source.read_text())
    if not found:
        raise BenchError(f"no idle times in {source}")
    path = workdir / "campaigns-short-idle.toml"
    path.write_text(text)
    return path


def run_steps(
    stack: EmbeddedStack,
    workdir: Path,
    args: argparse.Namespace,
    bare: bool,
    rates: Sequence[int],
) -> tuple[list[Step], list[int]]:
    """One live consumer on topics of its own, warmed up, then one paced step per rate,
    lowest first; rates above the first step not sustained are skipped but headlines."""
    tag = "lb" if bare else "lw"
    settings = run_settings(stack, workdir, f"bench-{tag}", tag, tag)
    asyncio.run(ensure_topics(settings))
    generator = EventGenerator(
        make_population(args.latency_customers, args.seed),
        make_catalog(args.seed),
        args.seed,
        datetime.now(UTC),
        max(rates),
        mix=latency_mix(args),
    )
    log_dir = workdir / "logs" / tag
    if bare:
        env = {**os.environ, **settings.to_env()}
        consumer = ManagedProcess(
            "latency-bare",
            [sys.executable, "-m", "bench.latency_agents"],
            log_dir,
            env=env,
            cwd=REPO_ROOT,
            stop_timeout=20.0,
        )
        client = None

        def done() -> int:
            return events_in(settings.metrics.port, f"{BARE_EVENTS}_total")
    else:
        campaigns = short_idle_campaigns(workdir, args.idle_s)
        settings = settings.updated(decisions={"campaigns_file": campaigns})
        consumer = worker_process(settings, log_dir, name="latency-worker")
        client, done = done_counter(settings)
    applied = BARE_LATENCY if bare else APPLY
    steps: list[Step] = []
    skipped: list[int] = []
    try:
        with consumer:
            pids = {
                "consumer": consumer.pid or 0,
                **stack.pids,
                "bench": os.getpid(),
            }
            # Each customer's identity events (3, on first sight) come first: all of them
            # go in the warm-up, so that the steps carry the simulator's usual mix.
            warmup = 3 * args.latency_customers + round(args.warmup_s * WARMUP_RATE)
            warm = stamped_records(generator, settings, warmup)
            offer(stack.kafka_bootstrap, warm, WARMUP_RATE)

            def consumed(what: str, events: int) -> float:
                def check() -> bool:
                    return done() >= events

                return wait_for(what, check, args.timeout, interval=0.05, process=consumer)

            expected = len(warm)
            consumed("the warm-up to be consumed", expected)
            for rate in rates:
                if any(not s.sustained for s in steps) and rate not in HEADLINE_RATES:
                    skipped.append(rate)
                    continue
                seconds = args.r1000_s if rate == 1000 else args.step_s
                records = stamped_records(generator, settings, round(rate * seconds))
                before, cpu_before = scrape(settings.metrics.port), cpu_seconds(pids)
                offered = offer(stack.kafka_bootstrap, records, rate)
                sent_at = time.perf_counter()
                expected += offered.events
                drained = consumed(f"the {rate:,}/s step to be consumed", expected) - sent_at
                cpu_after = cpu_seconds(pids)
                time.sleep(0.3)  # a pass observes its latencies just after its write
                after = scrape(settings.metrics.port)
                window = offered.send_s + drained
                step = Step(
                    rate,
                    offered,
                    drained,
                    after.since(before, (applied, "")),
                    {kind: after.since(before, (TRIGGER, kind)) for kind in after.triggers()},
                    after.since(before, (TIMER, "")),
                    {n: (cpu_after[n] - cpu_before[n]) / window for n in cpu_before},
                    after.share_within(before, ROUND_TRIPS, 2.0),
                )
                print(step.line())
                steps.append(step)
    finally:
        if client is not None:
            client.close()
    return steps, skipped


def measure_latency(stack: EmbeddedStack, workdir: Path, args: argparse.Namespace) -> Latency:
    foreign = ForeignLoad(stack.pids)
    print("\n--- latency: bare Faust (decode only) at 1,000 events/s ---")
    (bare,), _ = run_steps(stack, workdir, args, True, [1000])
    print("\n--- latency: worker ---")
    rates = list(range(1000, args.max_rate + 1, 1000))
    steps, skipped = run_steps(stack, workdir, args, False, rates)
    if skipped:
        print(f"  skipped (above a rate not sustained): {', '.join(map(str, skipped))} events/s")
    return Latency(bare, steps, skipped, latency_mix(args), foreign.cores())


# --- report --------------------------------------------------------------------------


def throughput_keys(tp: Throughput, args: argparse.Namespace) -> dict[str, Any]:
    per_s = {label: rate.events_per_s for label, rate in tp.rates.items()}
    out: dict[str, Any] = {
        f"throughput.{label}_events_per_s": round(rate) for label, rate in per_s.items()
    }
    out |= {
        "throughput.single_ratio": round(per_s["single"] / per_s["bare_faust"], 3),
        "throughput.envelope_ratio": round(per_s["envelope"] / per_s["bare_faust"], 3),
        "throughput.redis_round_trips_per_batch": round(tp.round_trips_per_batch, 2),
        "throughput.redis_batches_within_2_round_trips": round(tp.within_two_round_trips, 3),
        "throughput.single_segment_evaluations_per_event": round(
            tp.single_stats.get("segments_evaluated", 0) / args.events, 3
        ),
        "throughput.single_events": args.events,
        "throughput.envelope_events": args.envelope_events,
        "throughput.envelope_records": tp.envelope_records,
        "throughput.envelope_size": args.envelope_size,
        "throughput.customers": args.customers,
        "throughput.fetch_max_wait_ms": Settings().kafka.fetch_max_wait_ms,
        "throughput.other_processes_cores": round(tp.other_cores, 2),
    }
    if tp.two_done_before_both is not None:
        scaling = per_s["two_workers"] / per_s["single"]
        out["throughput.two_workers_scaling"] = round(scaling, 3)
        out["throughput.two_workers_done_before_both"] = round(tp.two_done_before_both, 3)
    for label, rate in tp.rates.items():
        for process, us in rate.cpu_us_per_event().items():
            out[f"throughput.{label}_cpu_us_per_event.{process}"] = round(us, 1)
    return out


def sustained_rate(steps: Sequence[Step]) -> int:
    """The highest rate of the unbroken run of sustained steps from the first (0: none)."""
    best = 0
    for step in steps:
        if not step.sustained:
            break
        best = step.rate
    return best


def latency_keys(lat: Latency, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "latency.customers": args.latency_customers,
        "latency.catalog_share": lat.mix.catalog_share,
        "latency.sensor_share": lat.mix.sensor_share,
        "latency.r1000_step_s": args.r1000_s,
        "latency.step_s": args.step_s,
        "latency.campaign_idle_s": args.idle_s,
        "latency.fetch_max_wait_ms": Settings().kafka.fetch_max_wait_ms,
        "latency.other_processes_cores": round(lat.other_cores, 2),
        "latency.sustained_events_per_s": sustained_rate(lat.steps),
        **lat.bare.profile.keys("latency.r1000.bare"),
    }
    for step in lat.steps:
        key = f"latency.steps.{step.rate}"
        worst = step.trigger
        out |= {
            f"{key}.achieved_events_per_s": round(step.achieved_events_per_s),
            f"{key}.drain_s": round(step.drain_s, 2),
            f"{key}.sent_late_p99_ms": round(step.offered.behind_ms_p99, 1),
            f"{key}.profile_p99_ms": rounded(step.profile.p99_ms),
            f"{key}.trigger_p99_ms": rounded(worst[1].p99_ms) if worst else None,
            f"{key}.trigger_kind": worst[0] if worst else None,
            f"{key}.kept_up": step.kept_up,
            f"{key}.redis_passes_within_2_round_trips": round(step.within_two_round_trips, 3),
            f"{key}.sustained": step.sustained,
            **{f"{key}.cpu_share.{n}": round(share, 3) for n, share in step.cpu_share.items()},
        }
        if step.rate not in HEADLINE_RATES:
            continue
        key = f"latency.r{step.rate}"
        out |= step.profile.keys(f"{key}.profile")
        if worst is not None:
            out |= worst[1].keys(f"{key}.trigger") | {f"{key}.trigger_kind": worst[0]}
        if step.rate == 1000:
            out |= step.timer.keys(f"{key}.timer_lateness")
            for kind, q in step.triggers.items():
                out |= q.keys(f"{key}.trigger.{kind}") if q.count else {}
    if lat.skipped:
        out["latency.steps_skipped"] = lat.skipped
    return out


def targets(out: Mapping[str, Any], peers: Mapping[str, Any]) -> list[tuple[str, Any, Any, bool]]:
    """(target, measured, limit, at least?) of the issue's targets and issue 22's peers."""

    def plus(value: Any, extra: float) -> Any:
        return None if value is None else value + extra

    trigger_1k = out.get("latency.r1000.trigger_p99_ms")
    return [
        ("worker / bare Faust, single events", out.get("throughput.single_ratio"), 0.75, True),
        ("worker envelopes / bare Faust single", out.get("throughput.envelope_ratio"), 3.0, True),
        ("sustained events/s", out.get("latency.sustained_events_per_s"), 5000, True),
        (
            "1k/s: trigger p99 <= bare Faust p99 + 50 ms",
            trigger_1k,
            plus(out.get("latency.r1000.bare_p99_ms"), 50),
            False,
        ),
        ("1k/s: trigger p99 ms", trigger_1k, 250, False),
        ("1k/s: profile p99 ms", out.get("latency.r1000.profile_p99_ms"), 250, False),
        ("1k/s: timer lateness p99 ms", out.get("latency.r1000.timer_lateness_p99_ms"), 250, False),
        ("3k/s: trigger p99 ms", out.get("latency.r3000.trigger_p99_ms"), 500, False),
        (
            "issue 22: single >= Quix Streams + Redis",
            out.get("throughput.single_events_per_s"),
            peers.get("peers.quix_redis_events_per_s"),
            True,
        ),
        (
            "issue 22: envelopes >= Bytewax + Redis",
            out.get("throughput.envelope_events_per_s"),
            peers.get("peers.bytewax_redis_events_per_s"),
            True,
        ),
        (
            "issue 22: 1k/s trigger p99 <= Quix p99 + 50 ms",
            trigger_1k,
            plus(peers.get("peers.quix_p99_ms"), 50),
            False,
        ),
    ]


def print_report(
    tp: Throughput | None, lat: Latency | None, out: Mapping[str, Any], args: argparse.Namespace
) -> None:
    if tp is not None:
        print(
            f"\n=== throughput ({args.events:,} single-event records; {args.envelope_events:,} "
            f"events in {tp.envelope_records:,} envelopes of {args.envelope_size}) ==="
        )
        print(f"  {'run':<24}{'events/s':>10}{'s':>7}{'start s':>9}   CPU µs/event")
        for label, rate in tp.rates.items():
            name = RUNS[label]
            cpu = ", ".join(f"{p} {us:,.0f}" for p, us in rate.cpu_us_per_event().items())
            print(
                f"  {name:<24}{rate.events_per_s:>10,.0f}{rate.elapsed_s:>7.1f}"
                f"{rate.startup_s:>9.1f}   {cpu}"
            )
        print(
            f"  Redis round trips per batch (worker, single): {tp.round_trips_per_batch:.2f}, "
            f"{tp.within_two_round_trips:.0%} of batches within 2"
        )
        print(f"  other processes meanwhile: {tp.other_cores:.2f} cores")
    if lat is not None:
        print(
            f"\n=== latency ({args.latency_customers:,} customers, catalog share "
            f"{lat.mix.catalog_share:.1%}, sensor share {lat.mix.sensor_share:.0%}) ==="
        )
        print(f"  bare Faust at 1k/s: event -> consumed {lat.bare.profile}")
        print(
            f"  {'offered':>8}{'achieved':>10}{'drain s':>9}{'profile p99':>13}"
            f"{'trigger p99':>13}  {'(kind)':<16}sustained"
        )
        for step in lat.steps:
            worst = step.trigger
            trigger = (
                f"{worst[1].p99_ms:>13,.1f}  {worst[0]:<16}" if worst else f"{'-':>13}  {'':<16}"
            )
            print(
                f"  {step.rate:>8,}{step.achieved_events_per_s:>10,.0f}{step.drain_s:>9.2f}"
                f"{step.profile.p99_ms or math.nan:>13,.1f}{trigger}{step.sustained}"
            )
        print(f"  sustained: {out['latency.sustained_events_per_s']:,} events/s")
        print(f"  other processes meanwhile: {lat.other_cores:.2f} cores")
    print("\n=== targets ===")
    for name, value, limit, at_least in targets(out, read_json(LATEST_JSON)):
        if value is None or limit is None:
            print(f"  {name:<48} {'no figure':>12}")
            continue
        ok = value >= limit if at_least else value <= limit
        sign = ">=" if at_least else "<="
        print(
            f"  {name:<48} {value:>12,.2f} {sign} {limit:>10,.2f}  " + ("met" if ok else "NOT met")
        )


def plot(tp: Throughput | None, lat: Latency | None, title: str) -> Path:
    """Throughput bars, and latency p50/p99 against the offered rate."""
    plt = pyplot()
    fig, (bars_ax, lat_ax) = plt.subplots(1, 2, figsize=(12, 4.8))
    if tp is not None:
        names = [RUNS[label].replace(", ", "\n") for label in tp.rates]
        values = [rate.events_per_s for rate in tp.rates.values()]
        colors = ["#9aa7b1", "#9aa7b1", "#2a7ab9", "#1b5e8c", "#5fa8d3"][: len(values)]
        bars = bars_ax.bar(names, values, color=colors)
        bars_ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=8)
        bars_ax.set_yscale("log")
        bars_ax.set_ylabel("events / s (log)")
        bars_ax.tick_params(axis="x", labelsize=8)
        bars_ax.set_title("throughput (backlog drained by one fresh group each)", fontsize=9)
    if lat is not None:
        rates = [s.rate for s in lat.steps]
        worst = [s.trigger for s in lat.steps]
        for label, color, qs in (
            ("event -> profile", "#2a7ab9", [s.profile for s in lat.steps]),
            (
                "worst immediate trigger -> decision",
                "#c0392b",
                [w[1] if w else None for w in worst],
            ),
        ):
            for q, style in (("p50", "--"), ("p99", "-")):
                ys = [getattr(x, f"{q}_ms") or math.nan if x else math.nan for x in qs]
                lat_ax.plot(rates, ys, style, color=color, marker="o", ms=3, label=f"{label} {q}")
        lat_ax.plot(
            [1000],
            [lat.bare.profile.p99_ms or math.nan],
            "s",
            color="#7f8c8d",
            label="bare Faust: event -> consumed p99",
        )
        failed = [s for s in lat.steps if not s.sustained]
        lat_ax.plot(
            [s.rate for s in failed],
            [s.profile.p99_ms or math.nan for s in failed],
            "x",
            color="black",
            ms=9,
            label="not sustained",
        )
        for limit in (250, SUSTAINED_TRIGGER_P99_MS):
            lat_ax.axhline(limit, color="black", lw=0.6, ls=":")
        lat_ax.set_yscale("log")
        lat_ax.set_xlabel("offered events / s (single-event records)")
        lat_ax.set_ylabel("ms (log; within-bucket interpolation)")
        lat_ax.set_title("latency, one live consumer (targets 250 / 500 ms dotted)", fontsize=9)
        lat_ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, "throughput")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--events", type=int, default=60_000, help="single-event records")
    add("--envelope-events", type=int, default=150_000)
    add("--envelope-size", type=int, default=20, help="events per envelope")
    add("--customers", type=int, default=450, help="of the backlog")
    add("--span-hours", type=float, default=6.0, help="of the backlog's event times")
    add("--seed", type=int, default=7)
    add("--skip-two-workers", action="store_true", help="no run of two workers of one group")
    add("--max-rate", type=int, default=8000, help="highest latency step, events/s")
    add("--r1000-s", type=float, default=12.0, help="seconds of the 1k step")
    add("--step-s", type=float, default=7.0, help="seconds of the other steps")
    add("--warmup-s", type=float, default=2.0, help="at 3k/s, after the identity events")
    add("--latency-customers", type=int, default=2000, help="fewer: contact caps suppress most")
    add(
        "--catalog-share", type=float, default=0.02, help="price drops, restocks (simulator: 0.3%%)"
    )
    add("--sensor-share", type=float, default=Mix().sensor_share, help="proximity: geofence")
    add("--idle-s", type=float, default=10.0, help="cart/browse idle of the latency worker")
    add("--skip-throughput", action="store_true")
    add("--skip-latency", action="store_true")
    add("--timeout", type=float, default=150.0, help="per wait, seconds")
    add("--workdir", type=Path, help="keep logs and Faust data here (default: a temporary one)")
    add("--no-write", action="store_true", help="print only: no latest.json, no plot")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    tp: Throughput | None = None
    lat: Latency | None = None
    with tempfile.TemporaryDirectory(prefix="stream-app-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        with EmbeddedStack(log_dir=workdir / "logs") as stack:
            if not args.skip_throughput:
                tp = measure_throughput(stack, workdir, args)
                print(f"(throughput part: {time.perf_counter() - started:.0f} s)")
            if not args.skip_latency:
                lat = measure_latency(stack, workdir, args)

    measured_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out: dict[str, Any] = {}
    if tp is not None:
        out |= throughput_keys(tp, args) | {"throughput.measured_at": measured_at}
    if lat is not None:
        out |= latency_keys(lat, args) | {"latency.measured_at": measured_at}
    print_report(tp, lat, out, args)
    title = f"stream_app throughput and latency, measured {measured_at}"
    plots = [] if args.no_write else [plot(tp, lat, title)]
    return finish(out, plots, write=not args.no_write, started=started)


if __name__ == "__main__":
    sys.exit(main())
