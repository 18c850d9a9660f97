"""Peer stream engines side by side: Quix Streams, Bytewax, bare Faust and raw aiokafka.

What our Faust-based worker costs only means something next to what other Python
engines do with the same broker, Redis and data. One embedded stack (Tansu +
redis-server), one backlog of ``--events`` single-event ``product_view`` records
(~250 B of JSON, keyed by customer, 4 partitions), and minimal jobs of each engine
(``bench/peer_jobs``, whose docstrings state each engine's settings), each in its
own subprocess, one at a time (2 cores), with a fresh consumer group from the
earliest offset (Bytewax's ``KafkaSource`` joins no group: it assigns partitions) and
a 500 ms fetch wait:

- **decode**: JSON-decode each value, count it;
- **redis**: the same plus ``HINCRBY <prefix>:<customer> n 1`` and ``HSET ... last
  <event_time>`` per event, pipelined per batch; the counts are checked in Redis.

Each is repeated ``--repeat`` times and the median kept. The rate runs from the job's
first consumed event to its last (its own clock); start-up (spawn to first event) is
reported on its own. CPU per event is the consumer's, Redis' and Tansu's CPU time
(``/proc``) between the first and the last event, divided by the events in between.

**Latency** (Quix Streams, Bytewax, bare Faust; decode only): each consumer reads a
topic of its own with a 10 ms broker fetch wait while a paced producer sends
``--latency-rate`` events/s, first until the consumer sees events, then
``--warmup-s`` more, then ``--latency-s`` seconds of measured events. Every event
carries the wall-clock time it was due to be sent, so a producer that falls behind
counts as latency; the job keeps ``now - due`` per measured event. One run per
engine (three would not fit the ~6 minutes this bench may take).

    python -m bench.peers [--events 60000 --repeat 3 --engines quix,faust]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import confluent_kafka
import orjson
import redis
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.common import (
    REPO_ROOT,
    BenchError,
    Record,
    finish,
    produce,
    pyplot,
    read_json,
    save_figure,
    scratch_stack,
    wait_for,
)
from bench.peer_jobs import MEASURED_PREFIX
from bench.profiles import Rate, cpu_seconds
from bench.throughput import SENTINEL, offer
from stream_app.devstack.processes import ManagedProcess
from stream_app.metrics.quantiles import percentile

PARTITIONS = 4
BACKLOG_TOPIC = "peers.product-views"
#: Longest a fetch may wait, for every consumer: in the backlog runs librdkafka's and
#: aiokafka's default (Faust's own 1.5 s and the worker's 10 ms differ; on Tansu a short
#: wait means more, smaller fetches: ~25 % of bare Faust's rate); in the latency runs short.
THROUGHPUT_FETCH_WAIT_MS = 500
FETCH_WAIT_MS = 10
#: Cores kept busy by processes not ours above which a run's figures are flagged.
DISTURBED_CORES = 0.25
THROUGHPUT_MODES = ("decode", "redis")
CATEGORIES = ("shoes", "bags", "outdoor", "kitchen", "toys", "beauty", "books", "garden")
BRANDS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne")
CHANNELS = ("web", "app", "email")


@dataclass(frozen=True, slots=True)
class Engine:
    """A consumer measured here. ``module`` speaks the ``bench.peer_jobs`` protocol
    (``python -m <module> MODE ...``); ``distribution`` is the package whose version
    is reported; ``latency`` says whether it runs the paced latency step too."""

    key: str
    label: str
    module: str
    distribution: str
    latency: bool = True


ENGINES: dict[str, Engine] = {
    engine.key: engine
    for engine in (
        Engine("quix", "Quix Streams", "bench.peer_jobs.quix_job", "quixstreams"),
        Engine("bytewax", "Bytewax", "bench.peer_jobs.bytewax_job", "bytewax"),
        Engine("faust", "bare Faust", "bench.peer_jobs.faust_job", "faust-streaming"),
        Engine("stream_app", "stream_app", "bench.peer_jobs.stream_app_job", "stream_app"),
        Engine(
            "aiokafka", "raw aiokafka", "bench.peer_jobs.aiokafka_job", "aiokafka", latency=False
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Context:
    """The stack and scratch space every job runs against."""

    bootstrap: str
    redis_url: str
    servers: dict[str, int]
    workdir: Path
    timeout: float

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"


@dataclass(frozen=True, slots=True)
class Latency:
    """Percentiles (ms) of due-to-consumed over the measured events of one run."""

    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    count: int
    startup_s: float
    sent_late_p99_ms: float
    #: CPU µs per measured event of the consumer, the servers, this process (the
    #: producer) and other processes: at a low rate, mostly the cost of polling the broker.
    cpu_us_per_event: dict[str, float]
    #: Cores that other processes kept busy meanwhile (0 on a quiet machine).
    other_cores: float


# --- data ---------------------------------------------------------------------


def product_views(
    topic: str, count: int, *, customers: int, seed: int, id_prefix: str, stamped: bool
) -> list[Record]:
    """``count`` clickstream events keyed by customer, as records of one event each.

    Event times run over the hour before now; with ``stamped`` they are
    ``bench.throughput``'s sentinel, which ``offer`` replaces by the due time.
    """
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=1)
    step = timedelta(hours=1) / max(1, count)
    sentinel = SENTINEL.decode().strip('"')
    records: list[Record] = []
    for index in range(count):
        customer = f"c-{rng.randrange(customers):06d}"
        item = f"sku-{rng.randrange(50_000):06d}"
        category = rng.choice(CATEGORIES)
        when = start + index * step
        value = {
            "type": "product_view",
            "event_id": f"{id_prefix}{index:08d}-{rng.getrandbits(48):012x}",
            "customer_id": customer,
            "event_time": sentinel if stamped else when.isoformat().replace("+00:00", "Z"),
            "item_id": item,
            "category": category,
            "price": round(rng.uniform(5, 300), 2),
            "brand": rng.choice(BRANDS),
            "session_id": f"s-{customer[2:]}-{rng.randrange(1000):04d}",
            "channel": rng.choice(CHANNELS),
        }
        records.append(Record(topic, customer.encode(), orjson.dumps(value), 1))
    return records


def create_topic(bootstrap: str, name: str) -> None:
    """A topic of ``PARTITIONS`` partitions (aiokafka's admin client, as ``ensure_topics``)."""

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="stream-app-peers")
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, PARTITIONS, 1)])
        finally:
            await admin.close()

    asyncio.run(create())


# --- CPU --------------------------------------------------------------------------

MACHINE = "machine"


def cpu_sample(pids: Mapping[str, int | None]) -> dict[str, float]:
    """CPU seconds used so far by each process, and by the whole machine (``/proc/stat``:
    user, nice, system, irq and softirq time of all cores)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    busy = sum(int(fields[i]) for i in (1, 2, 3, 6, 7)) / os.sysconf("SC_CLK_TCK")
    return {**cpu_seconds(pids), MACHINE: busy}


def cpu_used(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds of each process between two samples, and ``other``: everything else
    the machine did meanwhile (another test run on 2 cores disturbs every figure)."""
    used = {p: after[p] - before[p] for p in before if p != MACHINE}
    used["other"] = max(0.0, after[MACHINE] - before[MACHINE] - sum(used.values()))
    return used


# --- jobs -----------------------------------------------------------------------


def job_process(
    ctx: Context,
    engine: Engine,
    mode: str,
    name: str,
    topic: str,
    expected: int,
    fetch_wait_ms: int,
) -> tuple[ManagedProcess, Path]:
    """The job's process (not started) and its progress file; group and Redis prefix
    are named after the run, so every run starts afresh."""
    result = ctx.workdir / f"{name}.json"
    argv = [
        sys.executable, "-m", engine.module, mode,
        "--bootstrap", ctx.bootstrap,
        "--topic", topic,
        "--group", f"peers-{name}",
        "--redis-url", ctx.redis_url,
        "--prefix", f"peers:{name}",
        "--expected", str(expected),
        "--result", str(result),
        "--workdir", str(ctx.workdir),
        "--fetch-wait-ms", str(fetch_wait_ms),
    ]  # fmt: skip
    return ManagedProcess(name, argv, ctx.log_dir, cwd=REPO_ROOT, stop_timeout=5.0), result


def measure_rate(
    ctx: Context, engine: Engine, mode: str, name: str, events: int
) -> tuple[Rate, dict[str, Any]]:
    """Drain the backlog with one job; its rate and the settings it reported."""
    process, result = job_process(
        ctx, engine, mode, name, BACKLOG_TOPIC, events, THROUGHPUT_FETCH_WAIT_MS
    )
    spawned = time.perf_counter()
    with process:
        pids = {"consumer": process.pid, **ctx.servers, "bench": os.getpid()}
        # Polled often: the fastest consumers drain the backlog in a quarter second.
        wait_for(
            f"{name}'s first event",
            lambda: bool(read_json(result)),
            ctx.timeout,
            interval=0.005,
            process=process,
        )
        cpu_first = cpu_sample(pids)
        wait_for(
            f"{name} to finish {events:,} events",
            lambda: bool(read_json(result).get("done")),
            ctx.timeout,
            interval=0.02,
            process=process,
        )
        cpu_last = cpu_sample(pids)
    final = read_json(result)
    if mode == "redis":
        check_redis(ctx.redis_url, f"peers:{name}", events)
    rate = Rate(
        events=final["events"] - final["first_events"],
        elapsed_s=final["last_at"] - final["first_at"],
        startup_s=final["first_at"] - spawned,
        cpu_s=cpu_used(cpu_first, cpu_last),
    )
    return rate, final["settings"]


def check_redis(redis_url: str, prefix: str, events: int) -> None:
    """Every event must have been counted in Redis (at least once)."""
    client = redis.Redis.from_url(redis_url)
    try:
        pipe = client.pipeline(transaction=False)
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            pipe.hget(key, "n")
        counted = sum(int(n) for n in pipe.execute())
    finally:
        client.close()
    if counted < events:
        raise BenchError(f"{prefix}: Redis counted {counted:,} of {events:,} events")
    if counted > events:
        print(f"  note: {prefix} counted {counted - events:,} events twice (at-least-once)")


def measure_latency(ctx: Context, engine: Engine, args: argparse.Namespace) -> Latency:
    """Paced events to a topic of the engine's own; percentiles of due-to-consumed."""
    topic = f"peers.latency.{engine.key}"
    create_topic(ctx.bootstrap, topic)
    rate = args.latency_rate
    measured = round(rate * args.latency_s)

    def paced(count: int, id_prefix: str) -> list[Record]:
        return product_views(
            topic,
            count,
            customers=args.customers,
            seed=args.seed,
            id_prefix=id_prefix,
            stamped=True,
        )

    one_second, warmup = paced(round(rate), "w-"), paced(round(rate * args.warmup_s), "w-")
    measured_records = paced(measured, MEASURED_PREFIX)
    name = f"{engine.key}-latency"
    process, result = job_process(ctx, engine, "latency", name, topic, measured, FETCH_WAIT_MS)
    spawned = time.perf_counter()
    with process:
        deadline = spawned + ctx.timeout
        while not read_json(result):  # keep offering until the consumer has joined
            if process.exit_status() is not None or time.perf_counter() > deadline:
                raise BenchError(f"{name} consumed nothing:\n{process.log_tail()}")
            offer(ctx.bootstrap, one_second, rate)
        offer(ctx.bootstrap, warmup, rate)
        pids = {"consumer": process.pid, **ctx.servers, "bench": os.getpid()}
        cpu_first = cpu_sample(pids)
        offered = offer(ctx.bootstrap, measured_records, rate)
        cpu_last = cpu_sample(pids)
        wait_for(
            f"{name} to see {measured:,} measured events",
            lambda: bool(read_json(result).get("done")),
            30.0,
            process=process,
        )
    final = read_json(result)
    latencies = final["latencies_ms"]
    p50, p90, p99 = (percentile(latencies, q) for q in (50, 90, 99))
    return Latency(
        p50,
        p90,
        p99,
        max(latencies),
        len(latencies),
        final["first_at"] - spawned,
        offered.behind_ms_p99,
        {p: s * 1e6 / measured for p, s in cpu_used(cpu_first, cpu_last).items()},
        cpu_used(cpu_first, cpu_last)["other"] / offered.send_s,
    )


# --- report ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Summary:
    """The medians over the repetitions of one engine and mode."""

    events_per_s: float
    runs: list[float]
    startup_s: float
    cpu_us_per_event: dict[str, float]


def summarize(rates: Sequence[Rate]) -> Summary:
    cpu = [rate.cpu_us_per_event() for rate in rates]
    return Summary(
        statistics.median(rate.events_per_s for rate in rates),
        [rate.events_per_s for rate in rates],
        statistics.median(rate.startup_s for rate in rates),
        {p: statistics.median(c[p] for c in cpu) for p in cpu[0]},
    )


def flatten(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Nested settings as flat dotted keys."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, Mapping):
            out |= flatten(f"{prefix}.{name}", value)
        else:
            out[f"{prefix}.{name}"] = value
    return out


def results_of(
    args: argparse.Namespace,
    backlog: Sequence[Record],
    summaries: Mapping[tuple[str, str], Summary],
    latencies: Mapping[str, Latency],
    settings: Mapping[str, Mapping[str, Any]],
    versions: Mapping[str, str],
) -> dict[str, Any]:
    """Flat ``peers.*`` keys for ``latest.json``."""
    out: dict[str, Any] = {
        "peers.events": len(backlog),
        "peers.partitions": PARTITIONS,
        "peers.customers": args.customers,
        "peers.record_bytes_mean": round(statistics.mean(len(r.value) for r in backlog)),
        "peers.repeat": args.repeat,
        "peers.latency_events_per_s": args.latency_rate,
        "peers.latency_s": args.latency_s,
        "peers.latency_fetch_wait_ms": FETCH_WAIT_MS,
        "peers.throughput_fetch_wait_ms": THROUGHPUT_FETCH_WAIT_MS,
        "peers.measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for (key, mode), summary in summaries.items():
        job = f"peers.{key}_{mode}"
        out[f"{job}_events_per_s"] = round(summary.events_per_s)
        out[f"{job}_events_per_s_runs"] = [round(r) for r in summary.runs]
        out[f"{job}_startup_s"] = round(summary.startup_s, 2)
        for process, us in summary.cpu_us_per_event.items():
            out[f"{job}_cpu_us_per_event.{process}"] = round(us, 1)
    for key, latency in latencies.items():
        out[f"peers.{key}_p50_ms"] = round(latency.p50_ms, 1)
        out[f"peers.{key}_p90_ms"] = round(latency.p90_ms, 1)
        out[f"peers.{key}_p99_ms"] = round(latency.p99_ms, 1)
        out[f"peers.{key}_max_ms"] = round(latency.max_ms, 1)
        out[f"peers.{key}_latency_count"] = latency.count
        out[f"peers.{key}_latency_startup_s"] = round(latency.startup_s, 2)
        out[f"peers.{key}_latency_sent_late_p99_ms"] = round(latency.sent_late_p99_ms, 1)
        for process, us in latency.cpu_us_per_event.items():
            out[f"peers.{key}_latency_cpu_us_per_event.{process}"] = round(us, 1)
    for key, used in settings.items():
        out |= flatten(f"peers.settings.{key}", used)
    out |= {f"peers.versions.{name}": v for name, v in versions.items()}
    return out


def print_table(
    engines: Sequence[Engine],
    summaries: Mapping[tuple[str, str], Summary],
    latencies: Mapping[str, Latency],
    versions: Mapping[str, str],
    header: str,
) -> None:
    def cpu(key: str, mode: str) -> str:
        used = summaries[(key, mode)].cpu_us_per_event
        return " / ".join(f"{used[p]:.0f}" for p in ("consumer", "redis", "tansu"))

    def ms(key: str, field: str) -> str:
        return f"{getattr(latencies[key], field):.0f}" if key in latencies else "-"

    print(f"\n=== {header} ===")
    print(
        f"  {'consumer':<24} {'decode ev/s':>11} {'+Redis ev/s':>11} {'start s':>7}  "
        f"{'CPU µs/ev decode':>16} {'+Redis':>12}  {'p50 ms':>6} {'p99 ms':>6}"
    )
    for engine in engines:
        decode, with_redis = summaries[(engine.key, "decode")], summaries[(engine.key, "redis")]
        print(
            f"  {engine.label + ' ' + versions[engine.key]:<24} {decode.events_per_s:>11,.0f} "
            f"{with_redis.events_per_s:>11,.0f} {decode.startup_s:>7.1f}  "
            f"{cpu(engine.key, 'decode'):>16} {cpu(engine.key, 'redis'):>12}  "
            f"{ms(engine.key, 'p50_ms'):>6} {ms(engine.key, 'p99_ms'):>6}"
        )
    print(
        "  (medians; CPU µs per event: consumer / redis-server / Tansu; latency at "
        f"a paced rate with a {FETCH_WAIT_MS} ms fetch wait, decode only)"
    )
    for key, latency in latencies.items():
        used = latency.cpu_us_per_event
        print(
            f"  latency {key:<9} p50 {latency.p50_ms:.0f}, p90 {latency.p90_ms:.0f}, p99 "
            f"{latency.p99_ms:.0f}, max {latency.max_ms:.0f} ms; producer late p99 "
            f"{latency.sent_late_p99_ms:.0f} ms; CPU µs/event: "
            + ", ".join(f"{p} {us:.0f}" for p, us in used.items())
        )


def plot(
    engines: Sequence[Engine],
    summaries: Mapping[tuple[str, str], Summary],
    latencies: Mapping[str, Latency],
    rate: float,
    title: str,
) -> Path:
    plt = pyplot()
    fig, (rates, lat) = plt.subplots(1, 2, figsize=(12, 4.4), width_ratios=(3, 2))
    x = range(len(engines))
    for offset, mode, color in ((-0.2, "decode", "#9aa7b1"), (0.2, "redis", "#2a7ab9")):
        values = [summaries[(e.key, mode)].events_per_s for e in engines]
        label = "decode only" if mode == "decode" else "+ HINCRBY/HSET per event, pipelined"
        bars = rates.bar([i + offset for i in x], values, 0.4, color=color, label=label)
        rates.bar_label(bars, labels=[f"{v / 1000:,.0f}k" for v in values], fontsize=8)
    rates.set_xticks(list(x), [e.label for e in engines])
    rates.set_yscale("log")
    rates.set_ylabel("events / s (log scale)")
    rates.set_title("throughput, backlog of single-event records")
    rates.legend(fontsize=8)
    timed = [e for e in engines if e.key in latencies]
    y = range(len(timed))
    for offset, field, color in ((-0.2, "p50_ms", "#9aa7b1"), (0.2, "p99_ms", "#c0392b")):
        values = [getattr(latencies[e.key], field) for e in timed]
        bars = lat.bar([i + offset for i in y], values, 0.4, color=color, label=field[:3])
        lat.bar_label(bars, labels=[f"{v:.0f}" for v in values], fontsize=8)
    lat.set_xticks(list(y), [e.label for e in timed])
    lat.set_ylabel("due to consumed (ms)")
    lat.set_title(f"latency at {rate:,.0f} events/s, {FETCH_WAIT_MS} ms fetch wait, decode only")
    lat.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, "peers")


# --- main -------------------------------------------------------------------------


def parse_engines(text: str) -> list[Engine]:
    unknown = [k for k in text.split(",") if k not in ENGINES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {unknown}; known: {', '.join(ENGINES)}")
    return [ENGINES[k] for k in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000, help="backlog records")
    parser.add_argument("--customers", type=int, default=300, help="record keys")
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine and mode")
    parser.add_argument(
        "--engines", type=parse_engines, default=list(ENGINES.values()), help=",".join(ENGINES)
    )
    parser.add_argument("--latency-rate", type=float, default=1000.0, help="events/s")
    parser.add_argument("--latency-s", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup-s", type=float, default=2.0, help="after the consumer joined")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=120.0, help="per wait, seconds")
    parser.add_argument("--no-write", action="store_true", help="print only, no latest.json")
    args = parser.parse_args(argv)
    engines: list[Engine] = args.engines

    started = time.perf_counter()
    versions = {e.key: version(e.distribution) for e in engines}
    versions["librdkafka"] = confluent_kafka.libversion()[0]
    backlog = product_views(
        BACKLOG_TOPIC, args.events, customers=args.customers, seed=args.seed, id_prefix="e-",
        stamped=False,
    )  # fmt: skip
    rates: dict[tuple[str, str], list[Rate]] = {}
    settings: dict[str, dict[str, Any]] = {}
    latencies: dict[str, Latency] = {}
    disturbed: dict[str, float] = {}  # run -> cores other processes kept busy meanwhile
    with scratch_stack("stream-app-peers-") as (workdir, stack):
        ctx = Context(
            stack.kafka_bootstrap,
            stack.redis_url,
            stack.pids,
            workdir,
            args.timeout,
        )
        create_topic(ctx.bootstrap, BACKLOG_TOPIC)
        produce_s = produce(ctx.bootstrap, backlog)
        print(f"produced {len(backlog):,} records in {produce_s:.1f} s")
        for rep in range(1, args.repeat + 1):  # interleaved: drift hits every engine
            for engine in engines:
                for mode in THROUGHPUT_MODES:
                    name = f"{engine.key}-{mode}-{rep}"
                    rate, settings[engine.key] = measure_rate(ctx, engine, mode, name, args.events)
                    rates.setdefault((engine.key, mode), []).append(rate)
                    other = rate.cpu_s["other"] / rate.elapsed_s
                    if other > DISTURBED_CORES:
                        disturbed[name] = other
                    print(
                        f"  {name:<18} {rate.events_per_s:>9,.0f} events/s, start-up "
                        f"{rate.startup_s:.1f} s, other processes {other:.2f} cores "
                        f"({time.perf_counter() - started:.0f} s)"
                    )
        for engine in (e for e in engines if e.latency):
            latencies[engine.key] = latency = measure_latency(ctx, engine, args)
            if latency.other_cores > DISTURBED_CORES:
                disturbed[f"{engine.key}-latency"] = latency.other_cores
            print(
                f"  {engine.key}-latency p50 {latency.p50_ms:.0f} ms, p99 "
                f"{latency.p99_ms:.0f} ms, other processes {latency.other_cores:.2f} cores "
                f"({time.perf_counter() - started:.0f} s)"
            )

    summaries = {job: summarize(runs) for job, runs in rates.items()}
    out = results_of(args, backlog, summaries, latencies, settings, versions)
    out |= {f"peers.disturbed.{name}": round(cores, 2) for name, cores in disturbed.items()}
    header = (
        f"peers: {len(backlog):,} single-event records of ~{out['peers.record_bytes_mean']} B, "
        f"{PARTITIONS} partitions, median of {args.repeat}"
    )
    print_table(engines, summaries, latencies, versions, header)
    if disturbed:
        print(
            f"  DISTURBED: other processes kept > {DISTURBED_CORES} cores busy during "
            + ", ".join(f"{name} ({cores:.2f})" for name, cores in disturbed.items())
            + ": rerun on a quiet machine"
        )
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    png = plot(engines, summaries, latencies, args.latency_rate, f"{header}; measured {when}")
    out["peers.run_s"] = round(time.perf_counter() - started)
    return finish(out, [png], write=not args.no_write, started=started)


if __name__ == "__main__":
    sys.exit(main())
