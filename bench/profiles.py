"""Profile benchmark: pipeline throughput against bare Faust, and Redis bytes per profile.

One run on the embedded stack, one pre-generated event set (simulated, event
times spread over the last hours), consumed twice from the start of the topics
by fresh consumer groups, one after the other (the machine has 2 cores):

1. a decode-only Faust app (``bench/bare_faust.py``): Faust's own ceiling;
2. a real ``stream-app worker``: decode, validate, fold, Lua apply in Redis.

Start-up is excluded from both: rates run from the first consumed batch (bare)
or the first applied event (pipeline, polled from the stats hash) to the last.
Then every simulated customer's keys are measured with ``MEMORY USAGE``.

    python -m bench.profiles [--events 150000 --customers 450 --envelope-size 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis

from bench.common import (
    REPO_ROOT,
    BenchError,
    EventSet,
    finish,
    make_event_set,
    produce,
    pyplot,
    read_json,
    save_figure,
    scratch_stack,
    sync_redis,
    wait_for,
)
from stream_app.devstack.processes import ManagedProcess
from stream_app.devstack.stack import EmbeddedStack
from stream_app.devstack.workers import worker_env, worker_process
from stream_app.kafka_topics import ensure_topics
from stream_app.metrics.quantiles import percentile
from stream_app.settings import Settings
from stream_app.storage.configured import keys_of
from stream_app.storage.layout import Keys, parse_customer_key

#: Stats counters that mean "this event is done with": every decoded event is counted
#: per stream, in the same write as its effects, whatever became of it (applied, a
#: duplicate, or dead-lettered after decoding, e.g. a reading of an unknown device).
_DONE_PREFIXES = ("events_in:",)


@dataclass(frozen=True, slots=True)
class Rate:
    """Steady-state throughput of one consumer over one event set.

    ``cpu_s`` is the CPU time (user + system, all threads) each process used in
    the measured interval: on 2 cores it tells which process is the bottleneck.
    """

    events: int
    elapsed_s: float
    startup_s: float
    cpu_s: dict[str, float]

    def cpu_us_per_event(self) -> dict[str, float]:
        return {name: s * 1e6 / max(1, self.events) for name, s in self.cpu_s.items()}

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else float("nan")


@dataclass(frozen=True, slots=True)
class Memory:
    """Redis bytes of each customer's keys, by key kind (the part after ``}:``, up to a colon)."""

    by_customer: dict[str, Counter[str]]
    device_link_bytes: list[int]
    used_memory: int

    def totals(self) -> dict[str, int]:
        return {customer: sum(kinds.values()) for customer, kinds in self.by_customer.items()}


def bench_settings(stack: EmbeddedStack, workdir: Path, app_id: str) -> Settings:
    """Identical settings for both consumers but the group id and Faust data dir."""
    return Settings(
        kafka={"bootstrap": stack.kafka_bootstrap},
        redis={"url": stack.redis_url},
        worker={"app_id": app_id, "data_dir": str(workdir / app_id)},
        secrets={"allow_dev_secret": True},
        log={"level": "warn"},
    )


def history_settings(base: Settings, days: float) -> Settings:
    """A backfill of ``days`` of history: own topics, keys and group, and a max event age
    that admits it (the live default of 7 days would dead-letter most of it)."""
    topics = {name: f"{value}.history" for name, value in base.topics.model_dump().items()}
    return base.updated(
        topics=type(base.topics)(**topics),
        worker={
            "app_id": "bench-history",
            "data_dir": f"{base.worker.data_dir}-history",
            "max_event_age": timedelta(days=days + 2),
        },
        redis={"key_prefix": "hist"},
    )


def memory_with_history(
    stack: EmbeddedStack, base: Settings, args: argparse.Namespace, log_dir: Path
) -> tuple[Memory, dict[str, int]]:
    """Redis bytes per profile when each customer's events span weeks, as in real life."""
    settings = history_settings(base, args.history_days)
    data = make_event_set(
        settings.topics,
        customers=args.history_customers,
        events=args.history_customers * args.history_events,
        seed=args.seed + 1,
        span=timedelta(days=args.history_days),
    )
    asyncio.run(ensure_topics(settings))
    produce(stack.kafka_bootstrap, data.records)
    run_pipeline(settings, data.events, log_dir, args.timeout, stack.pids, 0)
    memory = measure_memory(
        stack.redis_url, settings.redis.key_prefix, set(data.events_per_customer)
    )
    return memory, dict(data.events_per_customer)


def cpu_seconds(pids: Mapping[str, int | None]) -> dict[str, float]:
    """CPU seconds used so far by each process (Linux ``/proc``; NaN elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    used: dict[str, float] = {}
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[name] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        except (OSError, IndexError, ValueError):
            used[name] = float("nan")
    return used


def _cpu_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in before}


def run_bare(
    settings: Settings, events: int, log_dir: Path, timeout: float, servers: Mapping[str, int]
) -> Rate:
    """Consume everything with the decode-only app; its own timestamps give the rate."""
    result = log_dir / "bare-faust.json"
    process = ManagedProcess(
        "bare-faust",
        [
            sys.executable,
            "-m",
            "bench.bare_faust",
            "--expected",
            str(events),
            "--result",
            str(result),
        ],
        log_dir,
        env={**os.environ, **settings.to_env()},
        cwd=REPO_ROOT,
        stop_timeout=20.0,
    )
    spawned = time.perf_counter()
    with process:
        pids = {"consumer": process.pid, **servers}
        wait_for(
            "bare Faust's first batch", lambda: bool(read_json(result)), timeout, process=process
        )
        cpu_first = cpu_seconds(pids)
        wait_for(
            "bare Faust to consume every event",
            lambda: read_json(result).get("done", False),
            timeout,
            process=process,
        )
        cpu_last = cpu_seconds(pids)
        final = read_json(result)
    # perf_counter is CLOCK_MONOTONIC on Linux: comparable across processes.
    return Rate(
        events=final["events"] - final["first_batch_events"],
        elapsed_s=final["last_batch_at"] - final["first_batch_at"],
        startup_s=final["first_batch_at"] - spawned,
        cpu_s=_cpu_delta(cpu_first, cpu_last),
    )


def run_pipeline(
    settings: Settings,
    events: int,
    log_dir: Path,
    timeout: float,
    servers: Mapping[str, int],
    py_spy_s: float,
    at_edges: Callable[[], object] | None = None,
    *,
    command: Sequence[str] | None = None,
) -> tuple[Rate, dict[str, int], str | None]:
    """Run a real worker until every event is applied or dead-lettered, polling Redis.

    ``at_edges`` is called when the measured interval starts and when it ends (e.g. to
    scrape the worker's metrics over exactly that interval). ``command`` runs another
    worker entry point (e.g. ``bench.slot_count``) in place of ``stream-app worker``.
    """
    client = sync_redis(settings)
    stats_key = keys_of(settings).stats()

    def read_stats() -> dict[str, int]:
        return {str(name): int(n) for name, n in client.hgetall(stats_key).items()}

    def done() -> int:
        return sum(n for name, n in read_stats().items() if name.startswith(_DONE_PREFIXES))

    worker = worker_process(settings, log_dir, name="pipeline-worker")
    if command is not None:
        worker = ManagedProcess(
            worker.name, command, log_dir, env=worker_env(settings), cwd=REPO_ROOT, stop_timeout=20
        )
    spawned = time.perf_counter()
    profile: str | None = None
    try:
        with worker:
            first_at = wait_for(
                "the first applied event", lambda: done() > 0, timeout, process=worker
            )
            first_count = done()
            pids = {"consumer": worker.pid, **servers}
            cpu_first = cpu_seconds(pids)
            if at_edges is not None:
                at_edges()
            spy = _start_py_spy(worker, py_spy_s, log_dir) if py_spy_s > 0 else None
            last_at = wait_for(
                "every event to be applied", lambda: done() >= events, timeout, process=worker
            )
            last_count = done()
            cpu_last = cpu_seconds(pids)
            if at_edges is not None:
                at_edges()
            if spy is not None:
                profile = _finish_py_spy(spy, log_dir)
        stats = read_stats()
    finally:
        client.close()
    rate = Rate(
        last_count - first_count,
        last_at - first_at,
        first_at - spawned,
        _cpu_delta(cpu_first, cpu_last),
    )
    return rate, stats, profile


def measure_memory(redis_url: str, prefix: str, customers: set[str]) -> Memory:
    """``MEMORY USAGE`` (all elements sampled) of every key of every simulated customer.

    One SCAN over ``<prefix>:{*}:*`` grouped by hash tag finds the same keys as
    one ``<prefix>:{<customer>}:*`` scan per customer, in one pass instead of N.
    Shared keys with a tag that is not a customer (``{sched}``) are
    left out; device links (``<prefix>:dev:{token}``) are reported on their own.
    """
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        keys: list[tuple[str, str]] = []
        layout = Keys(prefix)
        for key in client.scan_iter(match=layout.of_customer("*"), count=2000):
            customer = parse_customer_key(key).customer_id
            if customer in customers:
                keys.append((customer, key))
        device_keys = list(client.scan_iter(match=layout.device("*"), count=2000))
        pipe = client.pipeline(transaction=False)
        for _, key in keys:
            pipe.memory_usage(key, samples=0)
        for key in device_keys:
            pipe.memory_usage(key, samples=0)
        sizes = pipe.execute()
        by_customer: dict[str, Counter[str]] = defaultdict(Counter)
        for (customer, key), size in zip(keys, sizes, strict=False):
            # The kind of key: ``x:<decision>`` (one per scored decision) counts as ``x``.
            by_customer[customer][parse_customer_key(key).kind] += int(size or 0)
        used = int(client.info("memory")["used_memory"])
        return Memory(dict(by_customer), [int(s or 0) for s in sizes[len(keys) :]], used)
    finally:
        client.close()


def describe_keys(
    redis_url: str, prefix: str, customer: str
) -> list[tuple[str, str, str, int, int]]:
    """(kind, type, encoding, elements, bytes) of each key of one customer, for the report.

    The encoding shows whether a key is still compact (listpack/ziplist/intset)
    or was converted to a hash table / skiplist, which costs several times more.
    """
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    rows: list[tuple[str, str, str, int, int]] = []
    try:
        for key in sorted(client.scan_iter(match=Keys(prefix).of_customer(customer), count=2000)):
            kind = str(client.type(key))
            length = {
                "hash": client.hlen,
                "zset": client.zcard,
                "set": client.scard,
                "list": client.llen,
            }.get(kind, client.strlen)
            size = int(client.memory_usage(key, samples=0) or 0)
            encoding = str(client.object("encoding", key))
            rows.append((parse_customer_key(key).kind, kind, encoding, int(length(key)), size))
    finally:
        client.close()
    return rows


def _start_py_spy(worker: ManagedProcess, seconds: float, log_dir: Path) -> subprocess.Popen[bytes]:
    """Sample the worker with py-spy (collapsed stacks) while it catches up."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise BenchError("--py-spy needs py-spy: .venv/bin/pip install py-spy")
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(worker.pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "100",
            "--format",
            "raw",
            "--output",
            str(log_dir / "worker.pyspy.txt"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=(log_dir / "py-spy.log").open("wb"),
    )


def _finish_py_spy(spy: subprocess.Popen[bytes], log_dir: Path) -> str:
    """Top functions by own time and by inclusive time, from py-spy's collapsed stacks."""
    try:
        spy.wait(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()
    output = log_dir / "worker.pyspy.txt"
    if not output.exists():
        return "py-spy wrote nothing: " + (log_dir / "py-spy.log").read_text()[-500:]
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in output.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_short_frame(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    shutil.copy(output, REPO_ROOT / "bench" / "results" / "profiles-worker.pyspy.txt")
    lines = [f"py-spy: {total} samples of the worker while it caught up"]
    lines.append("  own time:")
    lines += [f"    {n / total:6.1%}  {f}" for f, n in own.most_common(15)]
    lines.append("  inclusive time (stream_app, redis, faust, aiokafka, orjson, pydantic):")
    ours = Counter({f: n for f, n in inclusive.items() if _interesting(f)})
    lines += [f"    {n / total:6.1%}  {f}" for f, n in ours.most_common(25)]
    return "\n".join(lines)


def _short_frame(frame: str) -> str:
    """``func (/long/path/site-packages/pkg/mod.py:12)`` -> ``func (pkg/mod.py)``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def _interesting(frame: str) -> bool:
    return any(
        f"({package}" in frame
        for package in ("stream_app", "redis", "faust", "aiokafka", "mode", "orjson", "pydantic")
    )


def plot(bare: Rate, pipeline: Rate, bytes_per_profile: Sequence[int], title: str) -> Path:
    plt = pyplot()
    fig, (rates, hist) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = ["bare Faust\n(decode only)", "full pipeline\n(worker)"]
    values = [bare.events_per_s, pipeline.events_per_s]
    bars = rates.bar(names, values, color=["#9aa7b1", "#2a7ab9"])
    rates.bar_label(bars, labels=[f"{v:,.0f}" for v in values])
    rates.set_ylabel("events / s")
    rates.set_title(f"throughput (pipeline / bare = {values[1] / values[0]:.2f})")
    kib = [b / 1024 for b in bytes_per_profile]
    hist.hist(kib, bins=40, color="#2a7ab9")
    median = statistics.median(kib)
    hist.axvline(median, color="black", linestyle="--", label=f"median {median:,.1f} KiB")
    hist.set_xlabel("Redis bytes per customer profile (KiB, all its keys)")
    hist.set_ylabel("customers")
    hist.set_title("memory per profile")
    hist.legend()
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, "profiles")


def report(
    args: argparse.Namespace,
    data: EventSet,
    bare: Rate,
    pipeline: Rate,
    stats: Mapping[str, int],
    memory: Memory,
    typical: list[tuple[str, str, str, int, int]],
    typical_customer: str,
) -> dict[str, Any]:
    """Print the figures and return them as flat ``profiles.*`` keys."""
    totals = memory.totals()
    sizes = sorted(totals.values())
    per_customer = [data.events_per_customer[c] for c in totals]
    bytes_per_event = [totals[c] / max(1, data.events_per_customer[c]) for c in totals]
    all_kinds: Counter[str] = Counter()
    for kinds in memory.by_customer.values():
        all_kinds.update(kinds)
    grand = sum(all_kinds.values())
    dead = sum(n for k, n in stats.items() if k.startswith("dead_letters:"))
    ratio = pipeline.events_per_s / bare.events_per_s
    results: dict[str, Any] = {
        "profiles.bare_faust_events_per_s": round(bare.events_per_s),
        "profiles.pipeline_events_per_s": round(pipeline.events_per_s),
        "profiles.ratio": round(ratio, 3),
        "profiles.bytes_per_profile_median": round(statistics.median(sizes)),
        "profiles.bytes_per_profile_p90": round(percentile(sizes, 90)),
        "profiles.events_per_customer_median": statistics.median(per_customer),
        "profiles.bytes_per_event_median": round(statistics.median(bytes_per_event), 1),
        "profiles.customers": len(totals),
        "profiles.events": data.events,
        "profiles.records": len(data.records),
        "profiles.envelope_size": args.envelope_size,
        "profiles.event_span_hours": args.span_hours,
        "profiles.bare_faust_startup_s": round(bare.startup_s, 1),
        "profiles.pipeline_startup_s": round(pipeline.startup_s, 1),
        "profiles.pipeline_events_applied": stats.get("events_applied", 0),
        "profiles.pipeline_dead_letters": dead,
        "profiles.decisions_emitted": stats.get("decisions_emitted", 0),
        "profiles.redis_used_memory_bytes": memory.used_memory,
        "profiles.device_links": len(memory.device_link_bytes),
        "profiles.measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for kind, n in sorted(all_kinds.items()):
        results[f"profiles.bytes_share.{kind}"] = round(n / grand, 3)
    for key, n in sorted(stats.items()):  # by reason: unknown_device is a known race
        if key.startswith("dead_letters:"):
            results[f"profiles.pipeline_{key.replace(':', '.')}"] = n
    for label, rate in (("bare_faust", bare), ("pipeline", pipeline)):
        for process, us in rate.cpu_us_per_event().items():
            results[f"profiles.{label}_cpu_us_per_event.{process}"] = round(us, 1)

    print(
        f"\n=== profiles benchmark ({data.events:,} events in {len(data.records):,} records, "
        f"{len(totals):,} customers, envelope size {args.envelope_size}) ==="
    )
    print(
        f"  bare Faust (decode only)   {bare.events_per_s:>10,.0f} events/s "
        f"({bare.events:,} events in {bare.elapsed_s:.1f} s; start-up {bare.startup_s:.1f} s)"
    )
    print(
        f"  full pipeline (worker)     {pipeline.events_per_s:>10,.0f} events/s "
        f"({pipeline.events:,} events in {pipeline.elapsed_s:.1f} s; "
        f"start-up {pipeline.startup_s:.1f} s)"
    )
    print(f"  ratio pipeline / bare      {ratio:>10.2f}")
    for label, rate in (("bare Faust", bare), ("pipeline", pipeline)):
        cpu = rate.cpu_us_per_event()
        print(
            f"  CPU per event, {label:<11} "
            + ", ".join(f"{name} {us:,.0f} µs" for name, us in cpu.items())
            + f" (wall {rate.elapsed_s * 1e6 / max(1, rate.events):,.0f} µs)"
        )
    print(
        f"  applied {stats.get('events_applied', 0):,}, duplicates "
        f"{stats.get('events_duplicate', 0):,}, dead letters {dead:,}, decisions "
        f"{stats.get('decisions_emitted', 0):,}"
    )
    print(
        f"  Redis bytes per profile    median {statistics.median(sizes):,.0f}, "
        f"p90 {percentile(sizes, 90):,.0f}, max {sizes[-1]:,}"
    )
    print(
        f"  events per customer        median {statistics.median(per_customer):,.0f}, "
        f"p90 {percentile(per_customer, 90):,.0f}; bytes per event (median) "
        f"{statistics.median(bytes_per_event):,.0f}"
    )
    print(
        "  share of profile bytes by key: "
        + ", ".join(f"{k}={n / grand:.0%}" for k, n in all_kinds.most_common())
    )
    if memory.device_link_bytes:
        print(
            f"  device links               {len(memory.device_link_bytes):,} keys, median "
            f"{statistics.median(memory.device_link_bytes):,.0f} bytes each (not per profile)"
        )
    print(f"  Redis used_memory          {memory.used_memory / 2**20:,.1f} MiB in total")
    print(
        f"  a typical customer ({typical_customer}: median bytes, "
        f"{data.events_per_customer[typical_customer]} events) had:"
    )
    for kind, redis_type, encoding, elements, size in typical:
        print(
            f"    :{kind:<6} {redis_type:<5} {encoding:<9} {elements:>6,} elements {size:>9,} bytes"
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=150_000)
    parser.add_argument(
        "--customers",
        type=int,
        default=450,
        help="450 customers give a median of ~300 events each at 150k events",
    )
    parser.add_argument("--span-hours", type=float, default=6.0, help="event-time spread")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--history-days", type=float, default=60.0, help="memory run: span")
    parser.add_argument("--history-customers", type=int, default=200, help="memory run")
    parser.add_argument(
        "--history-events", type=int, default=300, help="memory run: events per customer"
    )
    parser.add_argument("--envelope-size", type=int, default=1, help="events per record")
    parser.add_argument("--timeout", type=float, default=150.0, help="per consumer, seconds")
    parser.add_argument(
        "--py-spy",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="sample the worker with py-spy for this long (skews its rate)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only, no latest.json")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    with scratch_stack("stream-app-bench-") as (workdir, stack):
        base = bench_settings(stack, workdir, "bench-bare-faust")
        data = make_event_set(
            base.topics,
            customers=args.customers,
            events=args.events,
            seed=args.seed,
            span=timedelta(hours=args.span_hours),
            envelope_size=args.envelope_size,
        )
        print(
            f"generated {data.events:,} events ({len(data.records):,} records) in "
            f"{data.generate_s:.1f} s; event times {data.first_event_time:%H:%M} to "
            f"{data.last_event_time:%H:%M} UTC"
        )
        asyncio.run(ensure_topics(base))
        produce_s = produce(stack.kafka_bootstrap, data.records)
        print(f"produced in {produce_s:.1f} s ({len(data.records) / produce_s:,.0f} records/s)")

        servers = stack.pids
        bare = run_bare(base, data.events, workdir / "logs", args.timeout, servers)
        print(f"bare Faust: {bare.events_per_s:,.0f} events/s")
        pipeline_settings = bench_settings(stack, workdir, "bench-pipeline")
        pipeline, stats, profile = run_pipeline(
            pipeline_settings,
            data.events,
            workdir / "logs",
            args.timeout,
            servers,
            args.py_spy,
        )
        print(f"pipeline: {pipeline.events_per_s:,.0f} events/s")

        customers = set(data.events_per_customer)
        memory = measure_memory(stack.redis_url, base.redis.key_prefix, customers)
        totals = memory.totals()
        median = statistics.median(totals.values())
        typical_customer = min(totals, key=lambda c: (abs(totals[c] - median), c))
        typical = describe_keys(stack.redis_url, base.redis.key_prefix, typical_customer)
        history, history_events = memory_with_history(stack, base, args, workdir / "logs")
        history_totals = history.totals()
        history_median = statistics.median(history_totals.values())
        history_customer = min(
            history_totals, key=lambda c: (abs(history_totals[c] - history_median), c)
        )
        history_typical = describe_keys(stack.redis_url, "hist", history_customer)

    history_sizes = sorted(history.totals().values())
    print("  a typical customer of the history run had:")
    for row in history_typical:
        print("    " + "  ".join(str(cell) for cell in row))
    print(
        f"history ({args.history_days:g} days, {args.history_customers} customers, median "
        f"{statistics.median(history_events.values()):.0f} events each): median "
        f"{statistics.median(history_sizes):,.0f} bytes per profile"
    )

    results = report(args, data, bare, pipeline, stats, memory, typical, typical_customer)
    # The headline memory figure is the realistic one: a few hundred events over weeks.
    results["profiles.bytes_per_profile_median_span_hours"] = results[
        "profiles.bytes_per_profile_median"
    ]
    results["profiles.bytes_per_profile_median"] = round(statistics.median(history_sizes))
    results["profiles.bytes_per_profile_p90"] = round(percentile(history_sizes, 90))
    results["profiles.history_days"] = args.history_days
    results["profiles.history_events_per_customer_median"] = statistics.median(
        history_events.values()
    )
    if profile:
        print(profile)
    title = (
        f"{data.events:,} events, {len(totals):,} customers, envelope size "
        f"{args.envelope_size}; measured {results['profiles.measured_at']}"
    )
    png = plot(bare, pipeline, list(totals.values()), title)
    return finish(results, [png], write=not args.no_write, started=started)


if __name__ == "__main__":
    sys.exit(main())
