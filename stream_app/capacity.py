"""Capacity on paper: Kafka partitions, stream workers and Redis memory and shards for a
deployment's size, from the benches' measured figures (docs/capacity.md).

Pure arithmetic, no I/O: the caller reads ``bench/results/latest.json`` (or not) and
passes its flat keys to :func:`measured_from`. Every constant is named and says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

#: Bytes in a GB here (decimal, as cloud instance sizes are sold).
GB = 1_000_000_000

#: A worker is one asyncio event loop: it uses about one core, never more.
CORES_PER_WORKER = 1

#: At least two workers: a rolling update or a lost pod (the disruption budget takes one
#: at a time) leaves one consuming; with a headroom of 2 it alone carries the peak.
MIN_WORKERS = 2

#: Partitions per inbound topic are the workers times this: the worker count can grow
#: fourfold before a topic needs more partitions (adding them later moves customers to
#: other partitions, with a rebalance and a burst of lag, README "Scaling out").
PARTITION_GROWTH = 4

#: Partitions are rounded up to a multiple of this, so 1, 2, 3, 4, 6 or 12 workers (and
#: their multiples) get even shares of every topic.
PARTITION_MULTIPLE = 12

#: Redis' ``used_memory`` over the sum of the customers' ``MEMORY USAGE``: the keyspace's
#: own dict and expiry entries, segment sets and scheduled checks naming customers,
#: catalog keys. bench.profiles measured 1.27 (22.3 MB used for 450 customers of a
#: median 39.1 KB), rounded up.
KEYSPACE_OVERHEAD = 1.3

#: The allocator's fragmentation (Redis' ``mem_fragmentation_ratio``), typically 1.1-1.4
#: on a long-running Redis whose keys grow and expire.
FRAGMENTATION = 1.2

#: Share of a shard's RAM the data may fill (``maxmemory``): the rest is for the fork's
#: copy-on-write during RDB or AOF rewrites, replication and client buffers.
MAX_FILL = 0.75


@dataclass(frozen=True, slots=True)
class Measured:
    """The figures a plan rests on, each with where it came from (``sources``).

    ``live_events_per_s``: one worker keeping up live (a pass per customer, small batches);
    ``backlog_events_per_s``: one worker draining a backlog (big batches); ``scaling``:
    each worker's share when several run (1 = linear); ``bytes_per_customer``: Redis bytes
    of a typical customer's keys; ``bytes_per_id``: one more event id in the id index.
    """

    live_events_per_s: float
    backlog_events_per_s: float
    scaling: float
    bytes_per_customer: float
    bytes_per_id: float
    sources: Mapping[str, str] = field(default_factory=dict)


#: The figures a plan rests on, by their field name in :class:`Measured`.
FIGURES = (
    "live_events_per_s",
    "backlog_events_per_s",
    "scaling",
    "bytes_per_customer",
    "bytes_per_id",
)

#: Used for any figure ``latest.json`` lacks: the full ``make bench`` of 2026-12-07
#: 16:11-16:28 UTC (commit e59b934) on 2 cores of an AMD EPYC (bytes per id: its soak
#: run of 2026-11-22).
FALLBACK = Measured(
    live_events_per_s=3000,
    backlog_events_per_s=33806,
    scaling=0.85,
    bytes_per_customer=5358,
    bytes_per_id=23.6,
    sources=dict.fromkeys(FIGURES, "fallback (make bench of 2026-12-07, commit e59b934)"),
)

#: ``latest.json`` keys of each figure, the first present wins.
RESULT_KEYS: Mapping[str, tuple[str, ...]] = {
    "live_events_per_s": ("latency.sustained_events_per_s",),
    "backlog_events_per_s": ("throughput.single_events_per_s",),
    "bytes_per_customer": ("memory.bytes_per_customer_median", "profiles.bytes_per_profile_median"),
    "bytes_per_id": ("soak.redis_seen_bytes_per_id",),
}


def _positive(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    return float(value) if ok and math.isfinite(value) else None


def measured_from(results: Mapping[str, Any]) -> Measured:
    """The figures of a ``latest.json`` (flat ``<bench>.<figure>`` keys), each missing one
    from :data:`FALLBACK`. ``scaling`` is two workers' rate over twice one's, at most 1.

    >>> m = measured_from({"throughput.single_events_per_s": 30000,
    ...                    "throughput.two_workers_events_per_s": 48000})
    >>> m.backlog_events_per_s, m.scaling, m.live_events_per_s == FALLBACK.live_events_per_s
    (30000.0, 0.8, True)
    >>> m.sources["scaling"]
    'latest.json throughput.two_workers_events_per_s / (2 x throughput.single_events_per_s)'
    >>> measured_from({}) == FALLBACK
    True
    """
    values = {name: getattr(FALLBACK, name) for name in FIGURES}
    sources = dict(FALLBACK.sources)
    for name, keys in RESULT_KEYS.items():
        for key in keys:
            if (value := _positive(results.get(key))) is not None:
                values[name], sources[name] = value, f"latest.json {key}"
                break
    single = _positive(results.get("throughput.single_events_per_s"))
    two = _positive(results.get("throughput.two_workers_events_per_s"))
    if single and two:
        values["scaling"] = min(1.0, two / (2 * single))
        sources["scaling"] = (
            "latest.json throughput.two_workers_events_per_s / (2 x throughput.single_events_per_s)"
        )
    return Measured(**values, sources=sources)


def overridden(measured: Measured, **figures: float | None) -> Measured:
    """``measured`` with the figures given (not None) replaced, their source ``option``."""
    given = {name: float(v) for name, v in figures.items() if v is not None}
    sources = {**measured.sources, **dict.fromkeys(given, "option")}
    return replace(measured, **given, sources=sources)


@dataclass(frozen=True, slots=True)
class Deployment:
    """The size to plan for.

    ``events_per_s`` is the inbound peak (all topics); ``active_share`` the share of the
    customers with a profile in Redis (active within ``STREAM_APP_PROFILES__TTL``);
    ``headroom`` the provisioned worker capacity over the peak; ``shard_gb`` one Redis
    shard's RAM; ``extra_ids_per_customer`` event ids per customer in the id index beyond
    the bench's typical customer (who had a few: ids are kept for the allowed lateness,
    a day by default, after the customer's newest event).
    """

    customers: int
    events_per_s: float
    active_share: float = 1.0
    headroom: float = 2.0
    shard_gb: float = 25.0
    extra_ids_per_customer: int = 0


@dataclass(frozen=True, slots=True)
class Plan:
    """What a deployment needs; ``drain_min_per_outage_hour`` is None when never."""

    partitions_per_topic: int
    workers: int
    worker_cores: int
    live_capacity_events_per_s: float
    drain_min_per_outage_hour: float | None
    redis_bytes_per_customer: float
    redis_gb: float
    redis_shards: int
    redis_ram_gb: float


def capacity(workers: int, per_worker: float, scaling: float) -> float:
    """Events/s ``workers`` handle: one alone its full rate, several ``scaling`` of it each.

    >>> capacity(1, 3000, 0.85), capacity(4, 3000, 0.85)
    (3000.0, 10200.0)
    """
    return float(per_worker) if workers == 1 else workers * per_worker * scaling


def workers_for(events_per_s: float, per_worker: float, scaling: float) -> int:
    """Fewest workers, at least :data:`MIN_WORKERS`, whose :func:`capacity` covers
    ``events_per_s``.

    >>> workers_for(100, 3000, 0.85), workers_for(10_000, 3000, 0.85)
    (2, 4)
    """
    return max(MIN_WORKERS, math.ceil(events_per_s / (per_worker * scaling)))


def partitions_for(workers: int) -> int:
    """Partitions per inbound topic: room for :data:`PARTITION_GROWTH` times the workers,
    rounded up to a multiple of :data:`PARTITION_MULTIPLE`.

    >>> partitions_for(2), partitions_for(4), partitions_for(7)
    (12, 24, 36)
    """
    wanted = workers * PARTITION_GROWTH
    return math.ceil(wanted / PARTITION_MULTIPLE) * PARTITION_MULTIPLE


def plan(deployment: Deployment, measured: Measured) -> Plan:
    """The plan for ``deployment`` on ``measured`` figures.

    10 million customers at 5,000 events/s on the fallback figures: 4 workers
    (10,000 events/s with the headroom of 2, at 3,000 x 0.85 each), 24 partitions per
    topic, 10M x 5,358 B x 1.3 x 1.2 = 83.6 GB of data in 111.4 GB of RAM (filled to
    75 %), 5 shards of at most 25 GB.

    >>> p = plan(Deployment(customers=10_000_000, events_per_s=5000), FALLBACK)
    >>> p.workers, p.partitions_per_topic, round(p.redis_gb, 1), p.redis_shards
    (4, 24, 83.6, 5)
    >>> round(p.redis_ram_gb, 1)
    111.4
    >>> round(p.drain_min_per_outage_hour, 1)
    2.7
    """
    d, m = deployment, measured
    workers = workers_for(d.events_per_s * d.headroom, m.live_events_per_s, m.scaling)
    backlog = capacity(workers, m.backlog_events_per_s, m.scaling)
    drain = 60 * d.events_per_s / (backlog - d.events_per_s) if backlog > d.events_per_s else None
    per_customer = m.bytes_per_customer + d.extra_ids_per_customer * m.bytes_per_id
    data = d.customers * d.active_share * per_customer * KEYSPACE_OVERHEAD * FRAGMENTATION
    ram = data / MAX_FILL
    shards = max(1, math.ceil(ram / (d.shard_gb * GB)))
    return Plan(
        partitions_per_topic=partitions_for(workers),
        workers=workers,
        worker_cores=workers * CORES_PER_WORKER,
        live_capacity_events_per_s=capacity(workers, m.live_events_per_s, m.scaling),
        drain_min_per_outage_hour=drain,
        redis_bytes_per_customer=per_customer,
        redis_gb=data / GB,
        redis_shards=shards,
        redis_ram_gb=ram / GB,
    )


def assumptions(deployment: Deployment, measured: Measured, result: Plan) -> list[str]:
    """The plan's arithmetic and what it rests on, in sentences with the figures."""
    d, m, p = deployment, measured, result
    src = m.sources
    down = capacity(p.workers - 1, m.live_events_per_s, m.scaling)
    lines = [
        f"Workers: one keeps up live with {m.live_events_per_s:,.0f} events/s "
        f"({src['live_events_per_s']}); several do {m.scaling:.2f} of that each "
        f"({src['scaling']}). The peak {d.events_per_s:,.0f} x headroom {d.headroom:g} = "
        f"{d.events_per_s * d.headroom:,.0f} events/s needs {p.workers} (at least "
        f"{MIN_WORKERS}); with one down, {down:,.0f} events/s remain.",
        "The live rate was measured on 2 cores shared with the broker, Redis and the "
        "load generator, with the fetch settings of the embedded broker: a worker on its "
        "own core beside Apache Kafka should do more. Measure yours and pass "
        "--live-events-per-s.",
        f"Cores: a worker is one event loop, {CORES_PER_WORKER} core each: "
        f"{p.worker_cores} for the workers, besides Kafka's and Redis'.",
        f"Partitions: {p.workers} workers x {PARTITION_GROWTH} (room to grow: adding "
        f"partitions later moves customers and rebalances), rounded up to a multiple of "
        f"{PARTITION_MULTIPLE} = {p.partitions_per_topic} per inbound topic: each topic "
        "alone may carry most of the traffic.",
        f"Catch-up: one worker drains a backlog at {m.backlog_events_per_s:,.0f} events/s "
        f"({src['backlog_events_per_s']}); with the peak still coming in, an hour's "
        "outage drains in "
        + (
            f"{p.drain_min_per_outage_hour:.1f} min."
            if p.drain_min_per_outage_hour is not None
            else "never: the workers' backlog rate is below the peak."
        ),
        f"Redis per customer: {m.bytes_per_customer:,.0f} B ({src['bytes_per_customer']})"
        + (
            f" + {d.extra_ids_per_customer:,} event ids x {m.bytes_per_id:g} B "
            f"({src['bytes_per_id']})"
            if d.extra_ids_per_customer
            else ""
        )
        + f"; x {d.customers:,} customers x active share {d.active_share:g} x keyspace "
        f"overhead {KEYSPACE_OVERHEAD:g} x fragmentation {FRAGMENTATION:g} = "
        f"{p.redis_gb:,.1f} GB (1 GB = 10^9 B).",
        f"RAM: the data fills {MAX_FILL:.0%} of it (the rest for forks' copy-on-write "
        f"and buffers): {p.redis_ram_gb:,.1f} GB, in {p.redis_shards} shard(s) of at most "
        f"{d.shard_gb:g} GB; a replica per shard doubles it (not counted).",
        "Shards assume a Redis Cluster and a cluster-aware client (issue 18 item 2, in "
        "progress): until then the engine talks to one Redis, which needs all of it.",
    ]
    return lines


def provenance(results: Mapping[str, Any]) -> str:
    """When and where a ``latest.json`` was measured, from its ``machine`` block and the
    ``measured_at`` of the benches the figures come from.

    >>> text = provenance({"machine": {"commit": "d32eb11", "date": "2026-12-07T18:34",
    ...                    "cores": 2, "cpu_model": "AMD EPYC"},
    ...                    "throughput.measured_at": "2026-12-07T16:14Z"})
    >>> print(*text.split("; "), sep="\\n")
    last written 2026-12-07T18:34 at commit d32eb11 on 2 cores of an AMD EPYC
    throughput measured 2026-12-07T16:14Z
    """
    machine = results.get("machine")
    machine = machine if isinstance(machine, Mapping) else {}
    text = (
        f"last written {machine.get('date', '?')} at commit {machine.get('commit', '?')} "
        f"on {machine.get('cores', '?')} cores of an {machine.get('cpu_model', '?')}"
    )
    measured = [
        f"{bench} measured {results[f'{bench}.measured_at']}"
        for bench in ("throughput", "latency", "profiles", "soak")
        if f"{bench}.measured_at" in results
    ]
    return "; ".join([text, *measured])


def as_dict(deployment: Deployment, measured: Measured, result: Plan) -> dict[str, Any]:
    """The plan as JSON-ready data: the inputs, the figures and their sources, the plan
    and its assumptions."""
    figures = asdict(measured)
    figures["sources"] = dict(measured.sources)
    return {
        "deployment": asdict(deployment),
        "measured": figures,
        "plan": asdict(result),
        "assumptions": assumptions(deployment, measured, result),
    }


def render(result: Plan) -> str:
    """The plan as an aligned two-column table."""
    drain = result.drain_min_per_outage_hour
    rows = [
        ("Kafka partitions per inbound topic", f"{result.partitions_per_topic:,}"),
        ("stream workers", f"{result.workers:,}"),
        ("cores for the workers", f"{result.worker_cores:,}"),
        ("live capacity, events/s", f"{result.live_capacity_events_per_s:,.0f}"),
        ("catch-up, min per hour of outage", "never" if drain is None else f"{drain:.1f}"),
        ("Redis bytes per customer", f"{result.redis_bytes_per_customer:,.0f}"),
        ("Redis memory, GB", f"{result.redis_gb:,.1f}"),
        ("Redis shards", f"{result.redis_shards:,}"),
        ("Redis RAM, GB (no replicas)", f"{result.redis_ram_gb:,.1f}"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value:>10}" for name, value in rows)
