"""Redis memory per active customer: all of it, not only the profile document.

One run on the embedded stack (Tansu + redis-server): the history event set of
``bench.profiles`` (200 simulated customers, ~300 events each spread over 60 days,
seed 8) through a real ``stream-app worker``; then every key of the deployment is
weighed with ``MEMORY USAGE ... SAMPLES 0`` and charged to a customer:

- the customer's own keys (tagged ``{<customer>}``: profile, id indexes, memberships,
  decisions, contacts, scored features, ...), and those of anonymous profiles merged
  into it (``{~anon:...}``, by their link);
- a share of the shared keys that hold the customer: a member's share of a set, sorted
  set or hash is the key's bytes over its members (schedule checks, segment member
  sets, viewers and wishers of items, lift fields of its decisions), a device link
  (``dev:{token}``) its owner's, an order's basket run markers its buyer's.

Keys of no customer (catalog, basket rows, models, priors, stats) are reported as
engine-wide bytes. ``INFO used_memory`` grown over the run, per customer, is the
cross-check (it also holds the engine-wide keys and the keyspace's own tables).

    python -m bench.memory [--customers 200 --events-per-customer 300 --days 60]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import redis

from bench.backfill import produce_marked
from bench.common import (
    EventSet,
    Record,
    finish,
    make_event_set,
    produce,
    scratch_stack,
    wait_for,
)
from bench.profiles import bench_settings, describe_keys
from stream_app.devstack.stack import EmbeddedStack
from stream_app.devstack.workers import worker_process
from stream_app.kafka_topics import ensure_topics
from stream_app.metrics.quantiles import percentile
from stream_app.settings import Settings
from stream_app.storage.layout import Keys, event_key, parse_check, parse_customer_key

#: Shared sorted sets / sets / hashes whose members name a customer, by key kind.
_SHARED = ("segment", "viewers", "wishers", "lift", "sched")
#: The live part is fed in chunks of this much event time (less than the allowed lateness).
_CHUNK = timedelta(hours=12)


@dataclass
class Ledger:
    """Bytes charged to each customer by key kind, and what no customer owns."""

    by_customer: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    engine: Counter[str] = field(default_factory=Counter)
    #: Shares of shared keys whose member names nobody of the event set (e.g. unlinked devices).
    unowned: Counter[str] = field(default_factory=Counter)

    def charge(self, customer: str | None, kind: str, size: float) -> None:
        if customer is None:
            self.unowned[kind] += round(size)
        else:
            self.by_customer[customer][kind] += round(size)

    def totals(self) -> dict[str, int]:
        return {c: sum(kinds.values()) for c, kinds in self.by_customer.items()}


def owners_of_orders(data: EventSet) -> dict[str, str]:
    """``event_key`` of each order id -> its buyer (basket run markers are per order)."""
    owners: dict[str, str] = {}
    for record in data.records:
        decoded = orjson.loads(record.value)
        for event in decoded.get("events", [decoded]) if isinstance(decoded, dict) else []:
            if isinstance(event, dict) and event.get("order_id") and event.get("customer_id"):
                owners[event_key(str(event["order_id"]))] = str(event["customer_id"])
    return owners


class Weigher:
    """Charges every key of one deployment (``prefix``) to customers (module docstring)."""

    def __init__(self, client: redis.Redis, prefix: str, customers: set[str]) -> None:
        self.client, self.keys, self.customers = client, Keys(prefix), customers
        self.prefix = prefix

    def sizes(self, keys: Sequence[str]) -> list[int]:
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.memory_usage(key, samples=0)
        return [int(s or 0) for s in pipe.execute()]

    def owner(self, name: str, links: dict[str, str]) -> str | None:
        """The customer of a member, anonymous profile or device link value."""
        name = links.get(name, name)
        return name if name in self.customers else None

    def members(self, key: str, kind: str) -> list[str]:
        """The customers a shared key holds, one entry per member."""
        redis_type = self.client.type(key)
        if redis_type == "zset":
            names = list(self.client.zrange(key, 0, -1))
        elif redis_type == "set":
            names = list(self.client.smembers(key))
        elif redis_type == "hash":
            names = list(self.client.hkeys(key))
        else:
            return []
        if kind == "sched":
            checks = (parse_check(str(n)) for n in names)
            return [c.customer_id if c else "" for c in checks]
        return [str(n) for n in names]

    def weigh(self, order_owners: dict[str, str], decision_owners: dict[str, str]) -> Ledger:
        all_keys = sorted(self.client.scan_iter(match=self.keys.of_deployment(), count=5000))
        links = self.anonymous_links(all_keys)
        ledger = Ledger()
        for key, size in zip(all_keys, self.sizes(all_keys), strict=True):
            rest = key[len(self.prefix) + 1 :]
            if rest.startswith("{") and not rest.startswith("{sched}"):
                cid, kind, _ = parse_customer_key(key)
                ledger.charge(
                    self.owner(cid, links), kind if cid in self.customers else "anon", size
                )
            elif rest.startswith("dev:{") and not key.endswith(":parked"):
                ledger.charge(self.owner(rest[len("dev:{") : -1], links), "dev", size)
            elif rest.startswith("basket:run:{"):
                order = rest.partition("{")[2].partition("}")[0]
                ledger.charge(order_owners.get(order), "basket_run", size)
            elif (
                kind := rest.partition(":")[0].strip("{}")
            ) in _SHARED and rest != "lift:campaigns":
                self.share(ledger, key, kind, size, links, decision_owners)
            else:
                ledger.engine[rest.partition(":")[0]] += size
        return ledger

    def share(
        self,
        ledger: Ledger,
        key: str,
        kind: str,
        size: int,
        links: dict[str, str],
        decision_owners: dict[str, str],
    ) -> None:
        names = self.members(key, kind)
        if kind == "lift":
            names = [decision_owners.get(n, "") for n in names]
        for name in names:
            ledger.charge(self.owner(name, links), kind, size / len(names))

    def anonymous_links(self, all_keys: Iterable[str]) -> dict[str, str]:
        """Anonymous profile id -> the customer it was merged into, and device token ->
        its owner (a device's scheduled checks are its owner's)."""
        dev = f"{self.prefix}:dev:{{"
        links = [k for k in all_keys if k.endswith(":link")]
        devices = [k for k in all_keys if k.startswith(dev) and k.endswith("}")]
        values = self.client.mget(links + devices) if links or devices else []
        names = [parse_customer_key(k).customer_id for k in links]
        names += [k[len(dev) : -1] for k in devices]
        return {name: str(v) for name, v in zip(names, values, strict=True) if v}

    def decision_owners(self) -> dict[str, str]:
        """Decision id -> customer, from the customers' sent hashes and contacts."""
        owners: dict[str, str] = {}
        for customer in self.customers:
            for decision in self.client.hkeys(self.keys.sent(customer)):
                owners[str(decision)] = customer
            for decision in self.client.hkeys(self.keys.attribution(customer)):
                owners[str(decision)] = customer
        return owners


def summarize(ledger: Ledger, used_delta: int, customers: int) -> dict[str, Any]:
    """The ``memory.*`` figures: per customer median, p90, and each kind's median and share."""
    totals = sorted(ledger.totals().values())
    kinds = sorted({k for per in ledger.by_customer.values() for k in per})
    grand = sum(totals)
    results: dict[str, Any] = {
        "memory.bytes_per_customer_median": round(statistics.median(totals)),
        "memory.bytes_per_customer_p90": round(percentile(totals, 90)),
        "memory.bytes_per_customer_mean": round(grand / len(totals)),
        "memory.customers": customers,
        "memory.customers_with_keys": len(totals),
        "memory.used_memory_delta_per_customer": round(used_delta / customers),
        "memory.engine_wide_bytes": sum(ledger.engine.values()),
        "memory.unowned_bytes": sum(ledger.unowned.values()),
    }
    for kind in kinds:
        values = [per.get(kind, 0) for per in ledger.by_customer.values()]
        results[f"memory.kind_median.{kind}"] = round(statistics.median(values))
        results[f"memory.kind_share.{kind}"] = round(sum(values) / grand, 3)
    return results


def split_live(data: EventSet, live: timedelta) -> tuple[list[Record], list[list[Record]]]:
    """The records older than ``live`` before the last event (history), and the recent
    ones in half-day chunks of event time (fed live one after the other)."""
    last = data.last_event_time
    history: list[Record] = []
    chunks: dict[int, list[Record]] = defaultdict(list)
    for record in data.records:
        at = datetime.fromisoformat(str(orjson.loads(record.value)["event_time"]))
        if at <= last - live:
            history.append(record)
        else:
            chunks[int((at - (last - live)) / _CHUNK)].append(record)
    return history, [chunks[k] for k in sorted(chunks)]


def feed(
    settings: Settings,
    stack: EmbeddedStack,
    log_dir: Path,
    data: EventSet,
    args: argparse.Namespace,
) -> None:
    """History as a backfill, then the last days live, chunk by chunk, each consumed (and
    its due checks handled) before the next: as the events would have come."""
    history, chunks = split_live(data, timedelta(days=args.live_days))
    client = redis.Redis.from_url(settings.redis.url, decode_responses=True)
    keys = Keys(settings.redis.key_prefix)

    def caught_up(target: int) -> Callable[[], bool]:
        def check() -> bool:
            stats = client.hgetall(keys.stats()).items()
            return sum(int(n) for k, n in stats if str(k).startswith("events_in:")) >= target

        return check

    def settled() -> bool:
        now_ms = int(time.time() * 1000)
        return not client.zcount(keys.due(), "-inf", now_ms) and not client.zcard(keys.inflight())

    worker = worker_process(settings, log_dir, name="memory-worker")
    try:
        with worker:
            produce_marked(stack.kafka_bootstrap, history)
            expected = sum(r.events for r in history)
            wait_for("the history", caught_up(expected), args.timeout, process=worker)
            for chunk in chunks:
                produce(stack.kafka_bootstrap, chunk)
                expected += sum(r.events for r in chunk)
                wait_for("a live chunk", caught_up(expected), args.timeout, process=worker)
                wait_for("its due checks", settled, args.timeout, process=worker)
    finally:
        client.close()


def measure(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """Run the event set through a worker and weigh every key; returns figures and report lines."""
    with scratch_stack("stream-app-bench-memory-") as (workdir, stack):
        settings = bench_settings(stack, workdir, "bench-memory")
        data = make_event_set(
            settings.topics,
            customers=args.customers,
            events=args.customers * args.events_per_customer,
            seed=args.seed,
            span=timedelta(days=args.days),
        )
        asyncio.run(ensure_topics(settings))
        client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
        before = int(client.info("memory")["used_memory"])
        feed(settings, stack, workdir / "logs", data, args)
        used_delta = int(client.info("memory")["used_memory"]) - before
        customers = set(data.events_per_customer)
        weigher = Weigher(client, settings.redis.key_prefix, customers)
        ledger = weigher.weigh(owners_of_orders(data), weigher.decision_owners())
        results = summarize(ledger, used_delta, len(customers))
        totals = ledger.totals()
        median = statistics.median(totals.values())
        typical = min(totals, key=lambda c: (abs(totals[c] - median), c))
        rows = describe_keys(stack.redis_url, settings.redis.key_prefix, typical)
        stats = client.hgetall(Keys(settings.redis.key_prefix).stats())
        server = (
            f"{client.info('server')['redis_version']} {client.info('memory')['mem_allocator']}"
        )
        client.close()
    results["memory.redis_server"] = server
    for name in ("events_applied", "events_backfilled", "decisions_emitted"):
        results[f"memory.{name}"] = int(stats.get(name, 0))
    results["memory.events_late"] = sum(
        int(n) for k, n in stats.items() if str(k).startswith("events_late:")
    )
    results["memory.events_per_customer_median"] = statistics.median(
        data.events_per_customer.values()
    )
    results["memory.history_days"] = args.days
    results["memory.live_days"] = args.live_days
    results["memory.measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    lines = [f"a typical customer ({typical}, {totals[typical]:,} bytes) had:"]
    lines += [f"  :{k:<9} {t:<5} {e:<9} {n:>5} elements {b:>6,} bytes" for k, t, e, n, b in rows]
    shares = sorted(ledger.by_customer[typical].items())
    lines.append("  all its bytes by kind: " + ", ".join(f"{k} {v:,}" for k, v in shares))
    lines.append("engine-wide: " + ", ".join(f"{k} {v:,}" for k, v in ledger.engine.most_common()))
    lines.append(
        "of nobody in the set: " + ", ".join(f"{k} {v:,}" for k, v in ledger.unowned.items())
    )
    return results, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--events-per-customer", type=int, default=300)
    parser.add_argument("--days", type=float, default=60.0, help="event-time span")
    parser.add_argument("--live-days", type=float, default=6.0, help="the last ones, fed live")
    parser.add_argument("--seed", type=int, default=8, help="bench.profiles' history seed")
    parser.add_argument("--timeout", type=float, default=150.0, help="seconds")
    parser.add_argument("--no-write", action="store_true", help="print only, no latest.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results, lines = measure(args)
    print("\n".join(lines))
    print("\n".join(f"{name} = {value}" for name, value in results.items()))
    return finish(results, [], write=not args.no_write, started=started, what="bench.memory")


if __name__ == "__main__":
    sys.exit(main())
