"""Redis Cluster benchmark: the same worker on a local 3-master cluster and on single Redis,
the busiest hash slot, and a master killed mid-stream.

One event set (simulated, generated before any clock starts) is produced to three topic
sets of one embedded Kafka and drained by a fresh worker each, one after the other:

1. **single**: against one ``redis-server`` (``cluster.single_events_per_s``);
2. **cluster**: against a local cluster of 3 masters, no replicas
   (``cluster.events_per_s``; ``cluster.ratio`` = cluster / single). Both workers run
   under ``bench.slot_count``, which counts every key of every command they send by hash
   slot: ``cluster.max_slot_share`` is the busiest slot's share of those keys in the
   cluster run (1/16384 would be perfectly even; one customer's keys share a slot);
3. **failover**: against another cluster of 3 masters with a replica each, the worker
   waiting for one replica per batch (``redis.wait_replicas=1``). When ``--kill-at`` of
   the events are done, a master is SIGKILLed; its replica is promoted by the cluster
   (``cluster.failover_s``: kill to cluster ok), then the killed node is restarted and
   rejoins as its replica (the promoted master has no replica of its own, and the worker
   holds its batch until one acknowledges it), and the worker carries on. Then every
   customer's profile event count is compared with the event set's
   (``cluster.failover_lost_events``: events missing, ``..._double_applied_events``:
   events counted twice), and the decision ids on the decisions and audit topics with
   that run's (``cluster.failover_lost_decisions``: expected ids missing,
   ``cluster.failover_duplicate_decisions``: extra copies of an id).

Rates run from the first applied event to the last (``bench.profiles.run_pipeline``).
``cluster.healthy_customers_miscounted``: customers whose profile event count in the
healthy cluster run is not the event set's; ``cluster.healthy_decisions_differing``:
decision ids found in only one of those two healthy runs, the noise floor of the lost
decisions figure (timer checks and quiet hours depend on when a run happens).

    python -m bench.cluster [--events 30000 --customers 450 --kill-at 0.4]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.common import (
    EventSet,
    Record,
    make_event_set,
    produce,
    report,
    sync_redis,
    wait_for,
)
from bench.profiles import _DONE_PREFIXES, Rate, run_pipeline
from bench.throughput import ForeignLoad, run_settings
from stream_app.devstack.redis_cluster import ClusterShape, LocalRedisCluster
from stream_app.devstack.redis_server import RedisServer
from stream_app.devstack.stack import EmbeddedStack
from stream_app.devstack.workers import worker_process
from stream_app.kafka import client_options
from stream_app.kafka_topics import ensure_topics
from stream_app.settings import Settings
from stream_app.storage.bundle import build_stores
from stream_app.storage.configured import keys_of
from stream_app.storage.connection import redis_client


def with_topics(data: EventSet, base: Settings, settings: Settings) -> list[Record]:
    """``data``'s records moved from ``base``'s topics to ``settings``'."""
    old, new = base.topics.model_dump(), settings.topics.model_dump()
    moved = {old[name]: new[name] for name in old}
    return [dataclasses.replace(r, topic=moved[r.topic]) for r in data.records]


def slot_share(counts_file: Path) -> tuple[float, int]:
    """The busiest slot's share of the keys counted, and how many keys were counted."""
    counts = {int(slot): n for slot, n in json.loads(counts_file.read_text()).items()}
    total = sum(counts.values())
    return (max(counts.values()) / total if total else float("nan")), total


def drain(
    settings: Settings,
    data: EventSet,
    log_dir: Path,
    args: argparse.Namespace,
    servers: Mapping[str, int],
) -> tuple[Rate, float, int]:
    """A slot-counting worker drains the set: its rate, busiest slot share and keys.
    Before it stops, the profiles settle (the stats it polls may count a retried
    call's events twice and run ahead of them)."""
    counts = log_dir / "slots.json"
    command = [sys.executable, "-m", "bench.slot_count", str(counts)]
    edges: list[None] = []

    def at_edges() -> None:
        edges.append(None)
        if len(edges) == 2:
            settle(settings, data.events_per_customer, args.settle_s)

    rate, _, _ = run_pipeline(
        settings, data.events, log_dir, args.timeout, servers, 0, at_edges, command=command
    )
    share, keys = slot_share(counts)
    return rate, share, keys


async def _read_ids(settings: Settings, topics: Sequence[str]) -> Counter[str]:
    """Decision ids on ``topics``, from their start to their end offsets of now."""
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    ids: Counter[str] = Counter()
    try:
        await consumer.topics()
        parts = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        if not parts:
            return ids
        consumer.assign(parts)
        await consumer.seek_to_beginning()
        end = await consumer.end_offsets(parts)
        while any([await consumer.position(tp) < end[tp] for tp in parts]):
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                ids.update(str(orjson.loads(r.value)["decision_id"]) for r in batch)
    finally:
        await consumer.stop()
    return ids


def decision_ids(settings: Settings) -> Counter[str]:
    """Every decision published (sent ones and holdouts), by id."""
    return asyncio.run(_read_ids(settings, [settings.topics.decisions, settings.topics.audit]))


async def _event_counts(settings: Settings, customers: Sequence[str]) -> dict[str, int]:
    client = redis_client(settings)
    try:
        states = await build_stores(client, settings).profiles.stored(customers)
    finally:
        await client.aclose()
    return {s.customer_id: int(s.fields.get("n", 0)) for s in states}


def event_counts(settings: Settings, customers: Sequence[str]) -> dict[str, int]:
    """Each customer's profile event count (``n``) as stored."""
    return asyncio.run(_event_counts(settings, customers))


@dataclasses.dataclass(frozen=True, slots=True)
class Failover:
    rate: Rate
    failover_s: float
    done_at_kill: int


def settle(settings: Settings, want: Mapping[str, int], quiet_s: float) -> None:
    """Wait until the customers' event counts reach ``want``'s total, or stop changing
    for ``quiet_s`` (the stats count replayed events again, so they overshoot)."""
    customers = sorted(want)
    total, since = -1, time.perf_counter()
    while time.perf_counter() - since < quiet_s:
        now = sum(event_counts(settings, customers).values())
        if now >= sum(want.values()):
            return
        if now != total:
            total, since = now, time.perf_counter()
        time.sleep(0.5)


def kill_mid_stream(
    settings: Settings,
    cluster: LocalRedisCluster,
    events: int,
    want: Mapping[str, int],
    log_dir: Path,
    args: argparse.Namespace,
) -> Failover:
    """A worker drains the set; a master is SIGKILLed once ``--kill-at`` of it is done;
    at the end the customers' counts settle towards ``want``."""
    client = sync_redis(settings)
    stats = keys_of(settings).stats()

    def done() -> int:
        try:
            counted = client.hgetall(stats).items()
        except redis.RedisError:  # the stats' master is the one just killed
            return -1
        return sum(int(n) for name, n in counted if str(name).startswith(_DONE_PREFIXES))

    worker = worker_process(settings, log_dir, name="failover-worker")
    spawned = time.perf_counter()
    try:
        with worker:
            first = wait_for("the first event", lambda: done() > 0, args.timeout, process=worker)
            wait_for("the kill point", lambda: done() >= args.kill_at * events, args.timeout)
            done_at_kill = done()
            killed = time.perf_counter()
            dead = cluster.kill_master(0)
            cluster.wait_failover(dead, timeout=60)
            failover_s = time.perf_counter() - killed
            cluster.rejoin(dead, timeout=60)  # what a restart policy does: see the docstring
            print(f"  master killed at {done_at_kill:,} events; ok {failover_s:.1f} s later")
            last = wait_for(
                "every event after the failover",
                lambda: done() >= events,
                args.timeout,
                process=worker,
            )
            settle(settings.updated(redis={"url": cluster.url}), want, args.settle_s)
    finally:
        client.close()
    rate = Rate(events, last - first, first - spawned, {})
    return Failover(rate, failover_s, done_at_kill)


def compare(
    reference: Settings, failover: Settings, data: EventSet
) -> tuple[dict[str, int], Counter[str], Counter[str]]:
    """Events lost / applied twice (profile counts against the event set's), and the
    decision ids of the healthy cluster run (``reference``) and the failover run."""
    customers = sorted(data.events_per_customer)
    want, got = data.events_per_customer, event_counts(failover, customers)
    counts = {
        "lost": sum(max(0, want[c] - got[c]) for c in customers),
        "double": sum(max(0, got[c] - want[c]) for c in customers),
    }
    return counts, decision_ids(reference), decision_ids(failover)


def pair(
    stack: EmbeddedStack, single_redis: RedisServer, workdir: Path, n: int
) -> tuple[Settings, Settings]:
    """The ``n``-th single-Redis and cluster runs' settings (topics, keys, group each)."""
    single = run_settings(stack, workdir, f"cl-single{n}", f"cls{n}", f"single{n}")
    on_cluster = run_settings(stack, workdir, f"cl-cluster{n}", f"clc{n}", f"cluster{n}")
    return (
        single.updated(redis={"url": single_redis.url, "cluster": False}),
        on_cluster.updated(redis={"cluster": True}),
    )


def measure(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="stream-app-cluster-") as tmp:
        workdir = Path(args.keep or tmp)
        logs = workdir / "logs"
        with (
            EmbeddedStack(log_dir=logs, redis_cluster=ClusterShape(3, 0)) as stack,
            RedisServer(logs / "single") as single_redis,
        ):
            servers = {**stack.pids, "single-redis": single_redis.pid}
            foreign = ForeignLoad(servers)
            runs = [pair(stack, single_redis, workdir, n) for n in range(args.repeats)]
            single, on_cluster = runs[0]
            data = make_event_set(
                single.topics,
                customers=args.customers,
                events=args.events,
                seed=args.seed,
                span=timedelta(hours=args.span_hours),
            )
            print(f"generated {data.events:,} events of {args.customers} customers")
            singles, clusters = [], []
            for n, run in enumerate(runs):  # alternated: a busy spell disturbs both kinds
                for settings in run:
                    asyncio.run(ensure_topics(settings))
                    produce(stack.kafka_bootstrap, with_topics(data, single, settings))
                singles.append(drain(run[0], data, logs / f"single{n}", args, servers))
                clusters.append(drain(run[1], data, logs / f"cluster{n}", args, servers))
                print(
                    f"  single Redis: {singles[-1][0].events_per_s:,.0f} events/s, "
                    f"3-master cluster: {clusters[-1][0].events_per_s:,.0f} events/s"
                )
            single_rate = max((r[0] for r in singles), key=lambda r: r.events_per_s)
            rate, share, keys = max(clusters, key=lambda r: r[0].events_per_s)
            print(f"  busiest slot: {share:.4f} of {keys:,} keys (single: {singles[0][1]:.4f})")
            other = foreign.cores()
            customers = sorted(data.events_per_customer)
            truth = data.events_per_customer
            got = event_counts(on_cluster, customers)
            differing = sum(truth[c] != got[c] for c in customers)
            print(f"  healthy cluster run: {differing} customers' counts not the set's")
            healthy = decision_ids(single), decision_ids(on_cluster)
            noise = len(set(healthy[0]) ^ set(healthy[1]))
            print(
                f"  decisions: {sum(healthy[0].values())} single, {sum(healthy[1].values())} "
                f"cluster, {noise} ids in one healthy run only (timing: timers, quiet hours)"
            )
            failover = run_failover(stack, workdir, (single, on_cluster), data, args)
    return {
        "cluster.events_per_s": round(rate.events_per_s),
        "cluster.single_events_per_s": round(single_rate.events_per_s),
        "cluster.ratio": round(rate.events_per_s / single_rate.events_per_s, 3),
        "cluster.max_slot_share": round(share, 4),
        "cluster.healthy_customers_miscounted": differing,
        "cluster.healthy_decisions_differing": noise,
        "cluster.keys_counted": keys,
        "cluster.events": data.events,
        "cluster.other_cores": round(other, 2),
        **failover,
    }


def run_failover(
    stack: EmbeddedStack,
    workdir: Path,
    runs: tuple[Settings, Settings],
    data: EventSet,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The failover run on a cluster with replicas, compared with the healthy cluster
    run (``runs``: the run whose topics ``data`` was made for, and that one)."""
    base, reference = runs
    shape = ClusterShape(3, 1, node_timeout_ms=args.node_timeout_ms)
    with LocalRedisCluster(workdir / "logs" / "failover", shape) as cluster:
        settings = run_settings(stack, workdir, "cl-failover", "clf", "failover").updated(
            redis={"url": cluster.url, "cluster": True, "wait_replicas": 1}
        )
        asyncio.run(ensure_topics(settings))
        produce(stack.kafka_bootstrap, with_topics(data, base, settings))
        logs = workdir / "logs" / "fo"
        truth = data.events_per_customer
        run = kill_mid_stream(settings, cluster, data.events, truth, logs, args)
        counts, want, got = compare(reference, settings, data)
    lost = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    print(
        f"  failover: {counts['lost']} events lost, {counts['double']} applied twice; "
        f"{len(lost)} of {len(want)} decisions lost, {len(extra)} unexpected"
    )
    return {
        "cluster.failover_s": round(run.failover_s, 2),
        "cluster.failover_events_per_s": round(run.rate.events_per_s),
        "cluster.failover_lost_events": counts["lost"],
        "cluster.failover_double_applied_events": counts["double"],
        "cluster.failover_lost_decisions": len(lost),
        "cluster.failover_unexpected_decisions": len(extra),
        "cluster.failover_duplicate_decisions": sum(n - 1 for n in got.values() if n > 1),
        "cluster.failover_decisions": sum(got.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--customers", type=int, default=450)
    parser.add_argument("--span-hours", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--kill-at", type=float, default=0.4, help="share done at the kill")
    parser.add_argument("--node-timeout-ms", type=int, default=2000)
    parser.add_argument("--settle-s", type=float, default=10.0, help="quiet time at the end")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each kind (best kept)")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep its logs")
    parser.add_argument("--no-write", dest="write", action="store_false")
    return report(parser.parse_args(argv), measure, "cluster")


if __name__ == "__main__":
    raise SystemExit(main())
