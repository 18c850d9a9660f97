"""Service recovery latency: a negative comment produced -> its recovery decision read from
the decisions topic, on the embedded stack (issue 19).

``--customers`` customers opt in to push; then, paced over ``--seconds``, half of them
write a negative support-chat comment (-> ``service_recovery``) and the other half are
seen near a store (-> ``store_nearby``, an existing immediate trigger: the baseline of the
same run, produced and read the same way). Each latency runs from the produce call's
return to the moment a consumer reads the decision (``notifications.decisions``, or the
audit topic for a holdout), so it is end to end; the worker's own trigger-to-decision
histogram (scraped as ``bench.throughput`` does) gives the part inside the pass.

Keys (``sentiment.*``, beside the sentiment model's, which this bench keeps):
``recovery_p50_ms`` / ``recovery_p99_ms``, ``baseline_p50_ms`` / ``baseline_p99_ms``
(geofence), ``recovery_worker_p99_ms`` / ``baseline_worker_p99_ms`` and
``recovery_customers``.

    python -m bench.recovery [--customers 300 --seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from bench.common import LATEST_JSON, finish, raw_producer, read_json, scratch_stack, wait_for
from bench.throughput import TRIGGER, done_counter, rounded, run_settings, scrape
from stream_app.devstack.workers import worker_process
from stream_app.kafka_topics import ensure_topics
from stream_app.metrics.quantiles import percentile
from stream_app.settings import Settings

CAMPAIGNS = Path(__file__).resolve().parents[1] / "config" / "campaigns.toml"
COMPLAINT = "Third late delivery in a row, terrible service, never again"
#: What to send: topic, key (the customer), the event without its time (set when sent).
Send = tuple[str, str, dict[str, Any]]


def remark(customer: str) -> dict[str, Any]:
    return {"type": "comment", "source": "support_chat", "text": COMPLAINT, **_head(customer)}


def near_store(customer: str) -> dict[str, Any]:
    return {"type": "proximity", "store_id": "store-1", "distance_m": 30.0, **_head(customer)}


def opt_in(customer: str) -> dict[str, Any]:
    return {"type": "consent", "channel": "push", "opted_in": True, **_head(customer)}


def _head(customer: str) -> dict[str, Any]:
    return {"event_id": f"bench-{uuid.uuid4().hex[:12]}", "customer_id": customer}


async def _read_decisions(
    settings: Settings, wanted: set[str], seen: dict[str, float], timeout_s: float
) -> None:
    """Note when each wanted customer's first decision is read (decisions or audit)."""
    topics = settings.topics
    consumer = AIOKafkaConsumer(
        topics.decisions,
        topics.audit,
        bootstrap_servers=settings.kafka.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        deadline = time.perf_counter() + timeout_s
        while wanted - seen.keys() and time.perf_counter() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                at = time.perf_counter()
                for record in records:
                    customer = (record.key or b"").decode()
                    if customer in wanted and customer not in seen:
                        seen[customer] = at
    finally:
        await consumer.stop()


async def _produce_paced(
    settings: Settings, plan: Sequence[Send], seconds: float
) -> dict[str, float]:
    """Send ``plan`` (topic, customer, event) evenly over ``seconds``, each event timed
    when sent; when each was acked."""
    producer = raw_producer(settings.kafka.bootstrap, "bench-recovery", 0)
    await producer.start()
    sent: dict[str, float] = {}
    try:
        started = time.perf_counter()
        for i, (topic, customer, payload) in enumerate(plan):
            delay = started + i * seconds / len(plan) - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            value = orjson.dumps(payload | {"event_time": datetime.now(UTC).isoformat()})
            await producer.send_and_wait(topic, value, key=customer.encode())
            sent[customer] = time.perf_counter()
    finally:
        await producer.stop()
    return sent


async def _run(settings: Settings, plan: Sequence[Send], seconds: float) -> Any:
    seen: dict[str, float] = {}
    wanted = {customer for _, customer, _ in plan}
    reader = asyncio.create_task(_read_decisions(settings, wanted, seen, seconds + 60))
    await asyncio.sleep(2.0)  # the consumer has joined and read the topics' start
    sent = await _produce_paced(settings, plan, seconds)
    await reader
    return sent, seen


def measure(args: argparse.Namespace) -> dict[str, Any]:
    customers = [f"rec-{n:05d}" for n in range(args.customers)]
    rng = random.Random(args.seed)
    rng.shuffle(customers)
    complainers = set(customers[: len(customers) // 2])
    with scratch_stack("bench-recovery-") as (workdir, stack):
        settings = run_settings(stack, workdir, "bench-recovery", "brec", "rec").updated(
            decisions={"campaigns_file": CAMPAIGNS, "quiet_hours": None}
        )
        asyncio.run(ensure_topics(settings))
        topics = settings.topics
        consents = [(topics.identity, c, opt_in(c)) for c in customers]
        plan = [
            (topics.review, c, remark(c)) if c in complainers else (topics.sensor, c, near_store(c))
            for c in customers
        ]
        client, done = done_counter(settings)
        with worker_process(settings, workdir / "logs", name="recovery-worker") as worker:
            asyncio.run(_produce_paced(settings, consents, 2.0))
            wait_for("consents applied", lambda: done() >= len(consents), 120, process=worker)
            before = scrape(settings.metrics.port)
            sent, seen = asyncio.run(_run(settings, plan, args.seconds))
            time.sleep(0.5)
            after = scrape(settings.metrics.port)
        client.close()
    latencies: dict[str, list[float]] = {"recovery": [], "baseline": []}
    for customer, at in sent.items():
        if customer in seen:
            side = "recovery" if customer in complainers else "baseline"
            latencies[side].append((seen[customer] - at) * 1000)
    out: dict[str, Any] = {"sentiment.recovery_customers": len(latencies["recovery"])}
    for side, trigger in (("recovery", "negative_remark"), ("baseline", "geofence")):
        values = sorted(latencies[side])
        out[f"sentiment.{side}_p50_ms"] = rounded(percentile(values, 50)) if values else None
        out[f"sentiment.{side}_p99_ms"] = rounded(percentile(values, 99)) if values else None
        out[f"sentiment.{side}_worker_p99_ms"] = rounded(
            after.since(before, (TRIGGER, trigger)).p99_ms
        )
        out[f"sentiment.{side}_missing"] = sum(
            1 for c in customers if (c in complainers) == (side == "recovery") and c not in seen
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--no-write", dest="write", action="store_false")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = measure(args)
    print("\n".join(f"{name} = {value}" for name, value in results.items()))
    # ``sentiment.*`` is shared with the sentiment model's bench: keep its keys.
    kept = {
        k: v
        for k, v in read_json(LATEST_JSON).items()
        if k.startswith("sentiment.") and k not in results
    }
    return finish(kept | results, [], write=args.write, started=started, what="recovery bench")


if __name__ == "__main__":
    raise SystemExit(main())
