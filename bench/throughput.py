"""Throughput and latency benchmark: events/s against bare Faust, latency under paced load.

One run on the embedded stack, in two parts, never two consumers at once
except the two-worker run (the machine has 2 cores):

1. **Throughput** (backlog drained by fresh consumer groups, with
   ``bench.profiles``' functions): bare Faust (decode only) on single-event
   records and on envelopes, then a real worker on single-event records, on
   envelopes of ``--envelope-size`` events, and two workers of one group on the
   single-event records (4 partitions).
2. **Latency** (one live consumer at a time): a pacing producer offers
   pre-encoded records at fixed rates (1k, 5k, 10k events/s and the measured
   maximum), each event stamped with the moment it was due to be sent, so a
   producer that falls behind shows as latency (no coordinated omission). The
   consumer's Prometheus histograms are scraped before and after each step;
   percentiles come from the bucket deltas. Planned decisions are also timed
   from outside the worker, by Redis keyspace notifications on the
   pending-decision hashes. The same steps run against bare Faust (the latency
   floor of Faust on this broker), and both again with a short broker fetch wait
   (``bench.latency_agents``): Faust's hard-coded 1500 ms makes the embedded
   broker hold every fetch, which would hide the pipeline's own latency.

    python -m bench.throughput [--events 60000 --step-s 6 --fetch-wait-ms 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
import redis
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from bench.common import (
    REPO_ROOT,
    BenchError,
    Record,
    merge_results,
    pack_records,
    percentile,
    produce,
    pyplot,
    save_figure,
    wait_for,
)
from bench.latency_agents import BARE_EVENTS, BARE_LATENCY, FAUST_FETCH_WAIT_MS
from bench.profiles import (
    _DONE_PREFIXES,
    Rate,
    bench_settings,
    cpu_seconds,
    run_bare,
    run_pipeline,
)
from stream_app.devstack.ports import free_port
from stream_app.devstack.processes import ManagedProcess
from stream_app.devstack.stack import EmbeddedStack
from stream_app.devstack.workers import worker_process
from stream_app.settings import Settings
from stream_app.simulation.catalog import make_catalog
from stream_app.simulation.generator import EventGenerator, Mix
from stream_app.simulation.population import make_population
from stream_app.storage.keys import Keys
from stream_app.streaming.topics import ensure_topics

#: Event time written into pre-encoded records, replaced by the due time at send.
SENTINEL_TIME = datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
SENTINEL = b'"2001-02-03T04:05:06.789012Z"'
APPLY = "stream_app_event_apply_latency_seconds"
DECISION = "stream_app_trigger_to_decision_seconds"
TARGET_P99_MS = 20.0
#: Triggers (and their campaigns) whose latency starts at an event: catalog changes are
#: decided in the batch that applies them, geofence after the segment debounce.
#: Others (replenishment, segment entry) start at a computed moment: printed, not kept.
KEPT_TRIGGERS = ("price_drop", "back_in_stock", "geofence")
KEPT_CAMPAIGNS = ("price_drop", "back_in_stock", "store_nearby")


# --- settings --------------------------------------------------------------


def run_settings(
    stack: EmbeddedStack, workdir: Path, app_id: str, prefix: str, suffix: str, **update: Any
) -> Settings:
    """``bench_settings`` with its own topics, Redis key prefix and a free metrics port,
    so runs over one stack never see each other's events or counters."""
    base = bench_settings(stack, workdir, app_id)
    topics = {name: f"{value}.{suffix}" for name, value in base.topics.model_dump().items()}
    return base.model_copy(
        update={
            "key_prefix": prefix,
            "topics": type(base.topics)(**topics),
            "metrics_port": free_port(),
            **update,
        }
    )


def done_counter(settings: Settings) -> tuple[redis.Redis, Callable[[], int]]:
    """A Redis client and a function counting events finished (applied, ignored,
    dead-lettered) under ``settings.key_prefix``, from the engine's stats hash."""
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    key = Keys(settings.key_prefix).stats()

    def done() -> int:
        return sum(
            int(n)
            for name, n in client.hgetall(key).items()
            if str(name).startswith(_DONE_PREFIXES)
        )

    return client, done


# --- Prometheus --------------------------------------------------------------


def scrape(port: int) -> str | None:
    """The worker's ``/metrics`` text, or None while it does not answer yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
            text: str = reply.read().decode()
            return text
    except OSError:
        return None


Buckets = dict[tuple[str, tuple[tuple[str, str], ...]], dict[float, float]]


def histogram_buckets(text: str) -> Buckets:
    """(histogram, labels but ``le``) -> {upper bound: cumulative count}."""
    out: Buckets = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        if family.type != "histogram":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_bucket"):
                continue
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            out[(family.name, labels)][float(sample.labels["le"])] = sample.value
    return out


def counter_total(text: str, name: str) -> float:
    """Sum of all series of counter ``name`` (0 when absent)."""
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        if family.name == name
        for s in family.samples
        if s.name == f"{name}_total"
    )


@dataclass(frozen=True, slots=True)
class Quantiles:
    """Latency percentiles in ms. From buckets they are interpolated within a bucket
    (as PromQL's ``histogram_quantile``); ``share_le_20ms`` is exact (a bucket bound)."""

    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    share_le_20ms: float
    source: str

    def as_dict(self, prefix: str) -> dict[str, Any]:
        return {
            f"{prefix}_count": self.count,
            f"{prefix}_p50_ms": round(self.p50_ms, 2),
            f"{prefix}_p95_ms": round(self.p95_ms, 2),
            f"{prefix}_p99_ms": round(self.p99_ms, 2),
            f"{prefix}_share_le_20ms": round(self.share_le_20ms, 4),
        }


def bucket_quantile(cumulative: Sequence[tuple[float, float]], q: float) -> float:
    """The ``q`` (0-1) quantile of a cumulative histogram, in the histogram's unit.

    Linear within the bucket holding the rank, as PromQL does; a rank in the
    ``+Inf`` bucket gives the highest finite bound (a floor, not a value).
    """
    total = cumulative[-1][1]
    if total <= 0:
        return math.nan
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in cumulative:
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def delta_quantiles(before: Mapping[float, float], after: Mapping[float, float]) -> Quantiles:
    """Percentiles of what a histogram observed between two scrapes."""
    cumulative = sorted((le, after[le] - before.get(le, 0.0)) for le in after)
    total = cumulative[-1][1] if cumulative else 0.0
    if total <= 0:
        return Quantiles(0, math.nan, math.nan, math.nan, math.nan, "histogram")
    le_20 = next((n for le, n in cumulative if abs(le - 0.02) < 1e-9), math.nan)
    p50, p95, p99 = (1000 * bucket_quantile(cumulative, q) for q in (0.5, 0.95, 0.99))
    return Quantiles(round(total), p50, p95, p99, le_20 / total, "histogram")


def exact_quantiles(values_ms: Sequence[float]) -> Quantiles:
    if not values_ms:
        return Quantiles(0, math.nan, math.nan, math.nan, math.nan, "exact")
    share = sum(v <= TARGET_P99_MS for v in values_ms) / len(values_ms)
    return Quantiles(
        len(values_ms),
        percentile(values_ms, 50),
        percentile(values_ms, 95),
        percentile(values_ms, 99),
        share,
        "exact",
    )


# --- throughput ----------------------------------------------------------------


def run_two_workers(
    settings: Sequence[Settings],
    events: int,
    log_dir: Path,
    timeout: float,
    servers: Mapping[str, int],
) -> tuple[Rate, float]:
    """Two workers of one group drain the backlog; returns their joint rate and the share
    of events done before both consumed (excluded, like start-up and the rebalance)."""
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
                texts = [scrape(s.metrics_port or 0) for s in settings]
                return all(
                    t is not None and counter_total(t, "stream_app_events") > 0 for t in texts
                )

            first_at = wait_for("both workers to consume", both_consume, timeout, interval=0.05)
            first_count = done()
            pids = {w.name: w.pid or 0 for w in workers} | dict(servers)
            cpu_first = cpu_seconds(pids)
            last_at = wait_for(
                "every event to be applied by two workers",
                lambda: both_consume() and done() >= events,
                timeout,
            )
            last_count = done()
            cpu_last = cpu_seconds(pids)
    finally:
        client.close()
    rate = Rate(
        last_count - first_count,
        last_at - first_at,
        first_at - spawned,
        {name: cpu_last[name] - cpu_first[name] for name in cpu_first},
    )
    return rate, first_count / events


@dataclass(frozen=True, slots=True)
class Throughput:
    bare: Rate
    bare_envelope: Rate | None
    single: Rate
    envelope: Rate
    two: Rate
    two_done_before_both: float
    single_events: int
    single_records: int
    envelope_events: int
    envelope_records: int
    #: Engine counters of the single-event pipeline run (segment re-evaluations, decisions).
    single_stats: dict[str, int]


def measure_throughput(stack: EmbeddedStack, workdir: Path, args: argparse.Namespace) -> Throughput:
    """The backlog runs, each by a fresh consumer group from the start of its topics."""
    logs = workdir / "logs"
    servers = {"redis": stack.redis_pid, "tansu": stack.kafka_pid}
    single = run_settings(stack, workdir, "tp-bare", "tpb", "single")
    env = run_settings(stack, workdir, "tp-bare-env", "tpbe", "env")
    span = timedelta(hours=args.span_hours)
    generate_started = time.perf_counter()
    data = backlog_records(single, args.customers, args.events, args.seed, span, 1)
    env_data = backlog_records(
        env, args.customers, args.envelope_events, args.seed, span, args.envelope_size
    )
    print(
        f"generated {args.events:,} events ({len(data):,} records) and "
        f"{args.envelope_events:,} events in {len(env_data):,} envelopes in "
        f"{time.perf_counter() - generate_started:.1f} s"
    )
    asyncio.run(ensure_topics(single))
    asyncio.run(ensure_topics(env))
    produce(stack.kafka_bootstrap, data)
    produce(stack.kafka_bootstrap, env_data)

    bare = run_bare(single, args.events, logs / "bare", args.timeout, servers)
    print(f"bare Faust, single events: {bare.events_per_s:,.0f} events/s")
    bare_env = None
    if not args.skip_bare_envelope:
        bare_env = run_bare(env, args.envelope_events, logs / "bare-env", args.timeout, servers)
        print(f"bare Faust, envelopes: {bare_env.events_per_s:,.0f} events/s")

    one = run_settings(stack, workdir, "tp-single", "tps", "single")
    rate_single, stats_single, _ = run_pipeline(
        one, args.events, logs / "single", args.timeout, servers, 0
    )
    print(f"pipeline, single events: {rate_single.events_per_s:,.0f} events/s")
    env_run = run_settings(stack, workdir, "tp-env", "tpe", "env")
    rate_env, _, _ = run_pipeline(
        env_run, args.envelope_events, logs / "env", args.timeout, servers, 0
    )
    print(f"pipeline, envelopes of {args.envelope_size}: {rate_env.events_per_s:,.0f} events/s")

    first = run_settings(stack, workdir, "tp-two", "tp2", "single")
    second = first.model_copy(
        update={"metrics_port": free_port(), "data_dir": f"{first.data_dir}-2"}
    )
    two, before = run_two_workers([first, second], args.events, logs / "two", args.timeout, servers)
    print(
        f"two workers, single events: {two.events_per_s:,.0f} events/s "
        f"({before:.0%} done before both consumed)"
    )
    return Throughput(
        bare,
        bare_env,
        rate_single,
        rate_env,
        two,
        before,
        args.events,
        len(data),
        args.envelope_events,
        len(env_data),
        stats_single,
    )


# --- latency -----------------------------------------------------------------


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


def simulated_records(
    generator: EventGenerator, settings: Settings, events: int, envelope_size: int, stamp: bool
) -> list[Record]:
    """The generator's next ``events`` events as records; with ``envelope_size`` > 1,
    consecutive events of one customer on one topic share an envelope. With ``stamp``
    their event time is the sentinel, replaced by the due time when they are sent.

    """
    generated = []
    for _ in range(events):
        stream, event = next(generator)
        if stamp:
            event = event.model_copy(update={"event_time": SENTINEL_TIME})
        generated.append((stream, event))
    return pack_records(generated, settings.topics, envelope_size)


def backlog_records(
    settings: Settings,
    customers: int,
    events: int,
    seed: int,
    span: timedelta,
    envelope_size: int,
) -> list[Record]:
    """``events`` simulated events with event times over ``span`` up to a minute ago
    (within the worker's age limit, none in the future), as ``make_event_set`` spreads them."""
    end = datetime.now(UTC) - timedelta(minutes=1)
    generator = EventGenerator(
        make_population(customers, seed),
        make_catalog(seed),
        seed,
        end - span,
        events / span.total_seconds(),
    )
    return simulated_records(generator, settings, events, envelope_size, stamp=False)


def offer(bootstrap: str, records: Sequence[Record], rate: float) -> Offered:
    """Send ``records`` at ``rate`` events/s, each stamped with the time it is due."""
    return asyncio.run(_offer(bootstrap, records, rate))


def _stamp(wall: float) -> bytes:
    text = datetime.fromtimestamp(wall, UTC).isoformat(timespec="microseconds")
    return b'"' + text.replace("+00:00", "Z").encode() + b'"'


async def _offer(bootstrap: str, records: Sequence[Record], rate: float) -> Offered:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="stream-app-bench-pacer",
        linger_ms=1,
        max_batch_size=256 * 1024,
        enable_idempotence=False,
    )
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


class DecisionWatcher:
    """Times planned decisions from outside the worker: trigger time to the moment the
    decision is stored in Redis (keyspace notification on ``<prefix>:{cid}:pending``).

    The worker's own histogram takes "decision made" as the clock of the batch or tick
    that made it, read before the batch's work; this sees when the decision is durable.
    Suppressed hits store nothing, so only planned decisions are timed here.
    """

    def __init__(self, redis_url: str, prefix: str) -> None:
        self._url = redis_url
        self._prefix = prefix
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = redis.Redis.from_url(redis_url)
        self._seen: set[Any] = set()
        #: (arrival wall time, campaign id, trigger-to-stored seconds)
        self.observed: list[tuple[float, str, float]] = []
        self.error: BaseException | None = None

    def __enter__(self) -> DecisionWatcher:
        self._client.config_set("notify-keyspace-events", "Kh")
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        pubsub.psubscribe(f"__keyspace@*__:{self._prefix}:{{*}}:pending")
        self._thread = threading.Thread(target=self._run, args=(pubsub,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(redis.RedisError):
            self._client.config_set("notify-keyspace-events", "")
        self._client.close()

    def _run(self, pubsub: Any) -> None:
        reader = redis.Redis.from_url(self._url)
        cut = len("__keyspace@0__:")
        try:
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=0.1)
                if message is None or message["data"] != b"hset":
                    continue
                arrived = time.time()
                key = message["channel"][cut:]
                for decision_id, blob in reader.hgetall(key).items():
                    if decision_id in self._seen:
                        continue
                    self._seen.add(decision_id)
                    pending = orjson.loads(blob)
                    self.observed.append(
                        (arrived, pending["d"]["campaign_id"], arrived - pending["t"] / 1000)
                    )
        except BaseException as exc:  # reported by the bench, never silently lost
            self.error = exc
        finally:
            pubsub.close()
            reader.close()

    def between(self, start: float, end: float) -> dict[str, list[float]]:
        """Latencies in ms by campaign of decisions stored in ``[start, end)``."""
        out: dict[str, list[float]] = defaultdict(list)
        for arrived, campaign, seconds in list(self.observed):
            if start <= arrived < end:
                out[campaign].append(1000 * seconds)
        return dict(out)


@dataclass(slots=True)
class Step:
    """One offered load: what was sent, how the worker kept up, what it observed."""

    label: str
    load: float
    offered: Offered
    drain_s: float
    achieved_events_per_s: float
    sustained: bool
    apply: Quantiles
    triggers: dict[str, Quantiles]
    stored: dict[str, Quantiles]
    cpu_s: dict[str, float] = field(default_factory=dict)
    segment_evaluations: int = 0


Kind = Literal["worker", "bare"]


@dataclass(frozen=True, slots=True)
class LatencyRun:
    """The steps of one consumer: the worker or bare Faust, with Faust's fetch wait
    (``fetch_wait_ms`` None) or a shorter one."""

    kind: Kind
    fetch_wait_ms: int | None
    steps: list[Step]
    skipped: list[float] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Result key prefix: ``latency[.fetch_<N>ms][.bare_faust]``."""
        base = "latency" if self.fetch_wait_ms is None else f"latency.fetch_{self.fetch_wait_ms}ms"
        return base if self.kind == "worker" else f"{base}.bare_faust"

    @property
    def name(self) -> str:
        who = "pipeline (worker)" if self.kind == "worker" else "bare Faust (decode only)"
        if self.fetch_wait_ms is None:
            return f"{who}, Faust's fetch wait 1500 ms"
        return f"{who}, fetch wait {self.fetch_wait_ms} ms (bench patch)"


def latency_consumer(
    settings: Settings, log_dir: Path, kind: Kind, fetch_wait_ms: int | None
) -> ManagedProcess:
    """The stock ``worker_process``, or a ``bench.latency_agents`` consumer."""
    if kind == "worker" and fetch_wait_ms is None:
        return worker_process(settings, log_dir, name="latency-worker")
    argv = [sys.executable, "-m", "bench.latency_agents", kind]
    if fetch_wait_ms is not None:
        argv += ["--fetch-wait-ms", str(fetch_wait_ms)]
    return ManagedProcess(
        f"latency-{kind}-{fetch_wait_ms or FAUST_FETCH_WAIT_MS}",
        argv,
        log_dir,
        env={**os.environ, **settings.to_env()},
        cwd=REPO_ROOT,
        stop_timeout=20.0,
    )


def measure_latency(
    stack: EmbeddedStack,
    workdir: Path,
    args: argparse.Namespace,
    fixed: Sequence[float],
    backlog_max: float | None,
    kind: Kind,
    fetch_wait_ms: int | None,
) -> LatencyRun:
    """One live consumer, warmed up, then one paced step per load, lowest first.

    Loads above the first one the consumer does not sustain are skipped; the last
    step ("max") then offers 90 % of the rate it achieved there, i.e. close to
    what it sustains live. If every load is sustained, "max" is ``backlog_max``
    (the backlog-drain rate) when higher. Every run gets the same simulated stream
    (same seed), on its own topics.
    """
    tag = f"l{kind[0]}{fetch_wait_ms or 0}"
    settings = run_settings(
        stack, workdir, f"bench-{tag}", tag, tag, scheduler_interval_s=args.scheduler_interval
    )
    asyncio.run(ensure_topics(settings))
    mix = Mix() if args.catalog_share is None else Mix(catalog_share=args.catalog_share)
    generator = EventGenerator(
        make_population(args.latency_customers, args.seed),
        make_catalog(args.seed),
        args.seed,
        datetime.now(UTC),
        max([*fixed, backlog_max or 0.0]),
        mix=mix,
    )
    port = settings.metrics_port or 0
    client, redis_done = done_counter(settings)
    stats_key = Keys(settings.key_prefix).stats()

    def bare_done() -> int:
        text = scrape(port)
        return 0 if text is None else round(counter_total(text, BARE_EVENTS))

    def evaluations() -> int:
        return int(client.hget(stats_key, "segments_evaluated") or 0)

    done = redis_done if kind == "worker" else bare_done
    histogram = APPLY if kind == "worker" else BARE_LATENCY
    # The broker may hold the last fetch this long: not a sign of falling behind.
    hold_s = (fetch_wait_ms or FAUST_FETCH_WAIT_MS) / 1000
    servers = {"redis": stack.redis_pid, "tansu": stack.kafka_pid}
    settle_s = 0.0
    if kind == "worker":  # debounced triggers of a step's last events
        settle_s = settings.segment_debounce.total_seconds() + 2 * args.scheduler_interval + 0.5
    steps: list[Step] = []
    skipped: list[float] = []
    consumer = latency_consumer(settings, workdir / "logs" / tag, kind, fetch_wait_ms)
    expected = 0
    try:
        with consumer, contextlib.ExitStack() as watching:
            pids = {"consumer": consumer.pid or 0, **servers, "bench": os.getpid()}
            warm = simulated_records(
                generator, settings, round(args.warmup_s * 1000), 1, stamp=True
            )
            offer(stack.kafka_bootstrap, warm, 1000)
            expected = len(warm)
            wait_for("the warm-up to be consumed", lambda: done() >= expected, args.timeout,
                     process=consumer)  # fmt: skip
            time.sleep(settle_s)
            watcher = None
            if kind == "worker":
                watcher = watching.enter_context(
                    DecisionWatcher(settings.redis_url, settings.key_prefix)
                )

            def run_step(label: str, load: float) -> Step:
                nonlocal expected
                records = simulated_records(
                    generator, settings, round(load * args.step_s), 1, stamp=True
                )
                before = scrape(port)
                if before is None:
                    raise BenchError(f"{consumer.name}'s /metrics does not answer")
                cpu_before, evaluated = cpu_seconds(pids), evaluations()
                offered = offer(stack.kafka_bootstrap, records, load)
                expected += offered.events
                sent_at = time.perf_counter()
                finished = wait_for(
                    f"the {label} step to be consumed",
                    lambda: done() >= expected,
                    args.timeout,
                    interval=0.05,
                    process=consumer,
                )
                cpu_after = cpu_seconds(pids)
                time.sleep(settle_s)
                after = scrape(port) or ""
                stored: dict[str, list[float]] = {}
                if watcher is not None:
                    if watcher.error is not None:
                        raise BenchError(f"decision watcher failed: {watcher.error!r}")
                    stored = watcher.between(offered.started_wall, time.time())
                step = summarize_step(
                    label, load, offered, finished - sent_at, hold_s, histogram, before, after,
                    stored, args.step_s,
                )  # fmt: skip
                step.cpu_s = {n: cpu_after[n] - cpu_before[n] for n in cpu_before}
                step.segment_evaluations = evaluations() - evaluated
                print(step_line(step, kind))
                return step

            overloaded: Step | None = None
            for load in sorted(fixed):
                if overloaded is not None:
                    skipped.append(load)
                    continue
                step = run_step(f"{load / 1000:g}k", load)
                steps.append(step)
                if not step.sustained:
                    overloaded = step
            top: float | None = backlog_max if backlog_max and backlog_max > max(fixed) else None
            if overloaded is not None:
                top = math.floor(0.9 * overloaded.achieved_events_per_s / 100) * 100
                if top <= max((s.load for s in steps if s.sustained), default=0.0):
                    top = None
            if top is not None:
                steps.append(run_step("max", top))
            if skipped:
                listed = ", ".join(f"{x:,.0f}" for x in skipped)
                print(f"skipped (above a load not sustained): {listed} events/s")
    finally:
        client.close()
    return LatencyRun(kind, fetch_wait_ms, sorted(steps, key=lambda s: s.load), skipped)


def summarize_step(
    label: str,
    load: float,
    offered: Offered,
    drain_s: float,
    hold_s: float,
    histogram: str,
    before: str,
    after: str,
    stored_ms: Mapping[str, Sequence[float]],
    step_s: float,
) -> Step:
    """Percentiles of one step from the scrape deltas and the watcher's observations;
    ``histogram`` is the event -> applied (worker) or -> consumed (bare) one.

    Sustained: the backlog left when the last record was sent was gone within a
    second (or a tenth of the step) plus one broker fetch hold. The achieved rate
    leaves that one hold out too.
    """
    old, new = histogram_buckets(before), histogram_buckets(after)
    apply = delta_quantiles(old.get((histogram, ()), {}), new.get((histogram, ()), {}))
    triggers = {}
    for (name, labels), buckets in new.items():
        if name != DECISION:
            continue
        trigger = dict(labels).get("trigger", "?")
        quantiles = delta_quantiles(old.get((name, labels), {}), buckets)
        if quantiles.count:
            triggers[trigger] = quantiles
    stored = {campaign: exact_quantiles(ms) for campaign, ms in stored_ms.items()}
    busy_s = offered.send_s + max(0.0, drain_s - hold_s)
    return Step(
        label=label,
        load=load,
        offered=offered,
        drain_s=drain_s,
        achieved_events_per_s=offered.events / busy_s,
        sustained=drain_s <= max(1.0, 0.1 * step_s) + hold_s,
        apply=apply,
        triggers=triggers,
        stored=stored,
    )


def _fmt(q: Quantiles) -> str:
    if not q.count:
        return "n=0"
    return (
        f"p50 {q.p50_ms:,.1f} / p95 {q.p95_ms:,.1f} / p99 {q.p99_ms:,.1f} ms "
        f"(n={q.count:,}, <=20 ms {q.share_le_20ms:.1%})"
    )


def step_line(step: Step, kind: Kind) -> str:
    what = "event -> profile applied" if kind == "worker" else "event -> consumed (bare)"
    lines = [
        f"offered {step.label} ({step.load:,.0f} events/s): {step.offered.events:,} events, "
        f"sent late p99 {step.offered.behind_ms_p99:.1f} ms, drained {step.drain_s:.2f} s "
        f"after the last send, {step.achieved_events_per_s:,.0f} events/s achieved"
        + ("" if step.sustained else "  ** NOT SUSTAINED **"),
        f"    {what:<36} {_fmt(step.apply)}",
    ]
    for trigger, q in sorted(step.triggers.items()):
        lines.append(f"    {trigger + ' -> decision made':<36} {_fmt(q)}")
    for campaign, q in sorted(step.stored.items()):
        lines.append(f"    {campaign + ' -> decision stored':<36} {_fmt(q)}  [outside]")
    window = max(1e-9, step.offered.send_s + step.drain_s)
    cpu = ", ".join(f"{n} {s / window:.0%}" for n, s in step.cpu_s.items())
    lines.append(f"    CPU (share of one core while sending and draining): {cpu}")
    if kind == "worker":
        per_event = step.segment_evaluations / max(1, step.offered.events)
        lines.append(f"    segment re-evaluations per event: {per_event:.2f}")
    return "\n".join(lines)


# --- report -------------------------------------------------------------------


def headline_step(steps: Sequence[Step], load: float) -> Step | None:
    return next((s for s in steps if s.label != "max" and s.load == load), None)


def immediate(step: Step) -> Quantiles | None:
    """The worker's price drop -> decision percentiles: a trigger decided in the ingest
    batch that applied the catalog event (no debounce, no timer)."""
    return step.triggers.get("price_drop")


def results_of(
    tp: Throughput | None, runs: Sequence[LatencyRun], args: argparse.Namespace
) -> dict[str, Any]:
    """Flat ``throughput.*`` and ``latency.*`` keys for ``latest.json``."""
    measured_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out: dict[str, Any] = {}
    if tp is not None:
        out |= {
            "throughput.measured_at": measured_at,
            "throughput.bare_faust_events_per_s": round(tp.bare.events_per_s),
            "throughput.single_events_per_s": round(tp.single.events_per_s),
            "throughput.envelope_events_per_s": round(tp.envelope.events_per_s),
            "throughput.two_workers_events_per_s": round(tp.two.events_per_s),
            "throughput.single_ratio": round(tp.single.events_per_s / tp.bare.events_per_s, 3),
            "throughput.envelope_ratio": round(tp.envelope.events_per_s / tp.bare.events_per_s, 3),
            "throughput.two_workers_scaling": round(
                tp.two.events_per_s / tp.single.events_per_s, 3
            ),
            "throughput.two_workers_done_before_both": round(tp.two_done_before_both, 3),
            "throughput.envelope_size": args.envelope_size,
            "throughput.single_events": tp.single_events,
            "throughput.envelope_events": tp.envelope_events,
            "throughput.envelope_records": tp.envelope_records,
            "throughput.customers": args.customers,
            "throughput.single_segment_evaluations_per_event": round(
                tp.single_stats.get("segments_evaluated", 0) / tp.single_events, 3
            ),
        }
        if tp.bare_envelope is not None:
            out["throughput.bare_faust_envelope_events_per_s"] = round(
                tp.bare_envelope.events_per_s
            )
        for label, rate in (
            ("bare_faust", tp.bare),
            ("single", tp.single),
            ("envelope", tp.envelope),
            ("two_workers", tp.two),
        ):
            for process, us in rate.cpu_us_per_event().items():
                out[f"throughput.{label}_cpu_us_per_event.{process}"] = round(us, 1)
    if runs:
        out |= {
            "latency.measured_at": measured_at,
            "latency.step_s": args.step_s,
            "latency.customers": args.latency_customers,
            "latency.catalog_share": args.catalog_share or Mix().catalog_share,
            "latency.scheduler_interval_s": args.scheduler_interval,
            "latency.headline_load_events_per_s": round(args.headline_load),
        }
    for run in runs:
        out |= run_keys(run, args.headline_load)
    return out


def run_keys(run: LatencyRun, headline_load: float) -> dict[str, Any]:
    """One latency run's keys under ``run.key``: per step, and the headline step's at top.

    The headline ``p50/p95/p99_ms`` are the worker's own histogram of the immediate
    (catalog) triggers; ``stored_*`` the same decisions timed from outside.
    """
    out: dict[str, Any] = {}
    metric = "apply" if run.kind == "worker" else "consume"
    for step in run.steps:
        key = f"{run.key}.load_{step.label}"
        out |= {
            f"{key}.offered_events_per_s": round(step.load),
            f"{key}.achieved_events_per_s": round(step.achieved_events_per_s),
            f"{key}.sustained": step.sustained,
            f"{key}.drain_s": round(step.drain_s, 2),
            f"{key}.sent_late_p99_ms": round(step.offered.behind_ms_p99, 2),
            **step.apply.as_dict(f"{key}.{metric}"),
        }
        for process, cpu in step.cpu_s.items():
            window = step.offered.send_s + step.drain_s
            out[f"{key}.cpu_share.{process}"] = round(cpu / window, 3)
        if run.kind == "worker":
            per_event = step.segment_evaluations / max(1, step.offered.events)
            out[f"{key}.segment_evaluations_per_event"] = round(per_event, 3)
        for trigger, q in step.triggers.items():
            if trigger in KEPT_TRIGGERS:
                out |= q.as_dict(f"{key}.decision.{trigger}")
        for campaign, q in step.stored.items():
            if campaign in KEPT_CAMPAIGNS:
                out |= q.as_dict(f"{key}.stored.{campaign}")
    if run.skipped:
        out[f"{run.key}.loads_skipped"] = run.skipped
    head = headline_step(run.steps, headline_load)
    if head is None:
        return out
    out |= {
        f"{run.key}.{metric}_p50_ms": round(head.apply.p50_ms, 2),
        f"{run.key}.{metric}_p95_ms": round(head.apply.p95_ms, 2),
        f"{run.key}.{metric}_p99_ms": round(head.apply.p99_ms, 2),
        f"{run.key}.headline_sustained": head.sustained,
    }
    decision = immediate(head)
    if decision is not None:
        out |= {
            f"{run.key}.p50_ms": round(decision.p50_ms, 2),
            f"{run.key}.p95_ms": round(decision.p95_ms, 2),
            f"{run.key}.p99_ms": round(decision.p99_ms, 2),
            f"{run.key}.decisions_observed": decision.count,
            f"{run.key}.share_le_20ms": round(decision.share_le_20ms, 4),
        }
    stored = head.stored.get("price_drop")
    if stored is not None and stored.count:
        out |= {
            f"{run.key}.stored_p50_ms": round(stored.p50_ms, 2),
            f"{run.key}.stored_p95_ms": round(stored.p95_ms, 2),
            f"{run.key}.stored_p99_ms": round(stored.p99_ms, 2),
            f"{run.key}.stored_count": stored.count,
        }
    geofence = head.triggers.get("geofence")
    if geofence is not None:
        out[f"{run.key}.geofence_p50_ms"] = round(geofence.p50_ms, 1)
        out[f"{run.key}.geofence_p99_ms"] = round(geofence.p99_ms, 1)
    return out


def print_targets(out: Mapping[str, Any], runs: Sequence[LatencyRun]) -> None:
    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print("\n=== targets ===")
    if "throughput.envelope_ratio" in out:
        ratio = out["throughput.envelope_ratio"]
        print(f"  envelopes >= 2x bare Faust per worker:   {ratio:.2f}x  {verdict(ratio >= 2)}")
        ratio = out["throughput.single_ratio"]
        print(f"  single events >= 0.9x bare Faust:        {ratio:.2f}x  {verdict(ratio >= 0.9)}")
        scaling = out["throughput.two_workers_scaling"]
        print(
            f"  2 workers >= 1.5x one:                   {scaling:.2f}x  {verdict(scaling >= 1.5)}"
        )
    load = out.get("latency.headline_load_events_per_s", 0)
    for run in runs:
        if run.kind != "worker":
            continue
        p99 = out.get(f"{run.key}.p99_ms")
        if p99 is None:
            print(f"  p99 price drop -> decision at {load:,}/s, {run.name}: no observation")
            continue
        stored = out.get(f"{run.key}.stored_p99_ms", p99)
        sustained = out.get(f"{run.key}.headline_sustained", False)
        floor = out.get(f"{run.key}.bare_faust.consume_p99_ms")
        ok = max(p99, stored) <= TARGET_P99_MS and sustained
        print(
            f"  p99 trigger -> decision <= 20 ms at {load:,}/s, {run.name}:\n"
            f"      {p99:,.1f} ms (worker histogram), {stored:,.1f} ms (stored, timed outside)"
            + ("" if sustained else ", load NOT sustained")
            + ("" if floor is None else f"; bare Faust consumes at p99 {floor:,.1f} ms")
            + f"  {verdict(ok)}"
        )


def plot(tp: Throughput | None, runs: Sequence[LatencyRun], title: str) -> Path:
    """Throughput bars, then latency against offered load, one panel per fetch wait."""
    plt = pyplot()
    waits = list(dict.fromkeys(run.fetch_wait_ms for run in runs))
    panels = 1 + len(waits)
    fig, axes = plt.subplots(1, panels, figsize=(5.8 * panels, 4.8), squeeze=False)
    bars_ax = axes[0][0]
    if tp is not None:
        names = ["bare Faust\nsingle"]
        values = [tp.bare.events_per_s]
        if tp.bare_envelope is not None:
            names.append("bare Faust\nenvelopes")
            values.append(tp.bare_envelope.events_per_s)
        names += ["pipeline\nsingle", "pipeline\nenvelopes", "2 workers\nsingle"]
        values += [tp.single.events_per_s, tp.envelope.events_per_s, tp.two.events_per_s]
        colors = ["#9aa7b1"] * (len(names) - 3) + ["#2a7ab9", "#1b5e8c", "#5fa8d3"]
        bars = bars_ax.bar(names, values, color=colors)
        bars_ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=8)
        bars_ax.axhline(2 * tp.bare.events_per_s, color="#c0392b", ls=":", lw=1)
        bars_ax.text(-0.4, 2.02 * tp.bare.events_per_s, "2x bare single (envelope target)",
                     fontsize=7, va="bottom")  # fmt: skip
        bars_ax.set_yscale("log")
        bars_ax.set_ylabel("events / s (log)")
        bars_ax.tick_params(axis="x", labelsize=8)
        bars_ax.set_title("throughput (backlog drained, per run)")
    for ax, wait in zip(axes[0][1:], waits, strict=True):
        for run in (r for r in runs if r.fetch_wait_ms == wait and r.steps):
            loads = [s.load for s in run.steps]
            series: list[tuple[str, str, list[Quantiles | None]]] = []
            if run.kind == "worker":
                series.append(("event -> profile", "#2a7ab9", list(s.apply for s in run.steps)))
                series.append(("price drop -> decision", "#c0392b",
                               [immediate(s) for s in run.steps]))  # fmt: skip
            else:
                series.append(("bare Faust: event -> consumed", "#7f8c8d",
                               list(s.apply for s in run.steps)))  # fmt: skip
            for label, color, qs in series:
                for q, style in (("p50", "--"), ("p99", "-")):
                    ys = [getattr(x, f"{q}_ms") if x and x.count else math.nan for x in qs]
                    ax.plot(loads, ys, style, color=color, marker="o", ms=3, label=f"{label} {q}")
            if run.kind == "worker":
                for s in run.steps:
                    if not s.sustained:
                        ax.annotate(f"not sustained: {s.achieved_events_per_s:,.0f}/s",
                                    (s.load, s.apply.p99_ms), fontsize=6, xytext=(-70, -12),
                                    textcoords="offset points")  # fmt: skip
        ax.set_yscale("log")
        ax.set_ylim(bottom=5)
        ax.axhline(TARGET_P99_MS, color="black", lw=0.8)
        ax.text(ax.get_xlim()[0], TARGET_P99_MS * 1.08, " 20 ms (p99 target)", fontsize=7)
        ax.set_xlabel("offered events / s (single-event records)")
        ax.set_ylabel("ms (log; within-bucket interpolation)")
        how = "Faust's fetch wait 1500 ms" if wait is None else f"fetch wait {wait} ms (patch)"
        ax.set_title(f"latency, one consumer, {how}", fontsize=9)
        ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, "throughput")


def parse_loads(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000, help="single-event records")
    parser.add_argument("--envelope-events", type=int, default=150_000)
    parser.add_argument("--envelope-size", type=int, default=20, help="events per envelope")
    parser.add_argument("--customers", type=int, default=450, help="throughput runs")
    parser.add_argument("--span-hours", type=float, default=6.0, help="event-time spread")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-bare-envelope", action="store_true")
    parser.add_argument("--loads", type=parse_loads, default=[1000.0, 5000.0, 10000.0],
                        help="offered loads in events/s, comma separated")  # fmt: skip
    parser.add_argument(
        "--max-load",
        type=float,
        default=None,
        help="events/s of the 'max' step (default: the measured single-event rate)",
    )
    parser.add_argument("--headline-load", type=float, default=5000.0)
    parser.add_argument("--step-s", type=float, default=6.0, help="seconds per load step")
    parser.add_argument("--warmup-s", type=float, default=3.0, help="at 1k events/s")
    parser.add_argument("--latency-customers", type=int, default=2000)
    parser.add_argument(
        "--catalog-share",
        type=float,
        default=None,
        help="share of catalog updates (price drops, restocks) in the paced stream "
        "(default: the simulator's, 0.3 %%)",
    )
    parser.add_argument(
        "--scheduler-interval", type=float, default=1.0, help="latency worker's timer (s)"
    )
    parser.add_argument(
        "--fetch-wait-ms",
        type=int,
        default=10,
        help="also run the latency steps with this broker fetch wait (0: stock worker only)",
    )
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument(
        "--skip-bare-latency", action="store_true", help="no bare-Faust latency floor runs"
    )
    parser.add_argument("--timeout", type=float, default=150.0, help="per wait, seconds")
    parser.add_argument("--no-write", action="store_true", help="print only, no latest.json")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    tp: Throughput | None = None
    runs: list[LatencyRun] = []
    with tempfile.TemporaryDirectory(prefix="stream-app-bench-") as tmp:
        workdir = Path(tmp)
        with EmbeddedStack(log_dir=workdir / "logs") as stack:
            if not args.skip_throughput:
                tp = measure_throughput(stack, workdir, args)
                print(f"(throughput part: {time.perf_counter() - started:.0f} s)")
            if not args.skip_latency:
                maximum = args.max_load
                if maximum is None and tp is not None:
                    maximum = math.floor(tp.single.events_per_s / 100) * 100
                waits: list[int | None] = [None]
                if args.fetch_wait_ms > 0:
                    waits.append(args.fetch_wait_ms)
                kinds: list[Kind] = ["worker"] if args.skip_bare_latency else ["worker", "bare"]
                for wait in waits:
                    for kind in kinds:
                        print(f"\n--- latency, {LatencyRun(kind, wait, []).name} ---")
                        part = time.perf_counter()
                        runs.append(
                            measure_latency(stack, workdir, args, args.loads, maximum, kind, wait)
                        )
                        print(f"(this latency run: {time.perf_counter() - part:.0f} s)")

    out = results_of(tp, runs, args)
    if tp is not None:
        print(
            f"\n=== throughput ({tp.single_events:,} single-event records; {tp.envelope_events:,} "
            f"events in {tp.envelope_records:,} envelopes of {args.envelope_size}) ==="
        )
        rows = [("bare Faust, single", tp.bare)]
        if tp.bare_envelope is not None:
            rows.append(("bare Faust, envelopes", tp.bare_envelope))
        rows += [
            ("pipeline, single", tp.single),
            ("pipeline, envelopes", tp.envelope),
            ("two workers, single", tp.two),
        ]
        for name, rate in rows:
            cpu = ", ".join(f"{p} {us:,.0f}" for p, us in rate.cpu_us_per_event().items())
            print(
                f"  {name:<24} {rate.events_per_s:>10,.0f} events/s "
                f"({rate.events:,} in {rate.elapsed_s:.1f} s; CPU µs/event: {cpu})"
            )
    print_targets(out, runs)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    title = f"stream_app throughput and latency, measured {when}"
    png = plot(tp, runs, title)
    if not args.no_write:
        path = merge_results(out)
        print(f"wrote {path.relative_to(REPO_ROOT)} and {png.relative_to(REPO_ROOT)}")
    print(f"bench took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
