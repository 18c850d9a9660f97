"""Load generation: paces the simulator's events onto Kafka and answers decisions.

The generator is pure and timeless; here its event ``i`` is sent at
``t0 + i / rate`` on the monotonic clock and stamped with wall-clock start plus
the same offset, so the stream looks live to the engine. Decisions the engine
emits for this run's customers get plausible feedback (and conversions) back.
Both go out through one ``EventProducer``.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from stream_app.events.decision import Decision
from stream_app.kafka import client_options
from stream_app.producers.producer import EventProducer
from stream_app.settings import Settings
from stream_app.simulation.catalog import make_catalog
from stream_app.simulation.feedback import respond
from stream_app.simulation.generator import EventGenerator
from stream_app.simulation.population import Customer, make_population

log = logging.getLogger(__name__)

#: Pacing step: events due by now are generated and sent once per tick.
TICK_S = 0.05


@dataclass(slots=True)
class SimStats:
    """What a run did; ``events_sent`` and ``by_stream`` include the responses."""

    events_sent: int = 0
    records_sent: int = 0
    by_stream: Counter[str] = field(default_factory=Counter)
    decisions_seen: int = 0
    feedback_sent: int = 0
    elapsed_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Load:
    """A simulated load: ``customers`` shopping at ``rate`` events/s for ``duration``
    seconds, from ``seed``; with ``envelope_size`` > 1, events are sent as envelopes
    of up to that many events of one customer (one record key), so partitioning
    stays per customer. The CLI, the demo and the soak bench pass it on whole."""

    customers: int
    rate: float
    duration: float
    seed: int
    envelope_size: int = 1

    def __post_init__(self) -> None:
        if self.customers < 1 or self.rate <= 0 or self.duration < 0:
            raise ValueError("need customers >= 1, rate > 0 and duration >= 0")


async def run_simulation(
    settings: Settings,
    load: Load,
    *,
    respond_to_decisions: bool = True,
    on_progress: Callable[[SimStats], None] | None = None,
) -> SimStats:
    """Produce ``load``'s traffic; ``on_progress`` is called about once a second."""
    customers, rate, duration, seed = load.customers, load.rate, load.duration, load.seed
    population = make_population(customers, seed)
    catalog = make_catalog(seed)
    stats = SimStats()
    producer = EventProducer(
        settings, envelope_size=load.envelope_size, client_id="stream-app-simulator"
    )
    try:
        await producer.start()
        started_at = datetime.now(UTC)  # after connecting, so event times match send times
        events = EventGenerator(population, catalog, seed, started_at, rate)
        responder: asyncio.Task[None] | None = None
        if respond_to_decisions:
            answer = _Responder(settings, producer, population, seed, started_at, stats)
            responder = asyncio.create_task(answer.run(), name="simulator-responder")
        try:
            await _pace(producer, events, stats, rate, duration, responder, on_progress)
        finally:
            if responder is not None:
                responder.cancel()
                await asyncio.gather(responder, return_exceptions=True)
        stats.records_sent = (await producer.flush()).records_sent
    finally:
        await producer.stop()
    return stats


async def _pace(
    producer: EventProducer,
    events: EventGenerator,
    stats: SimStats,
    rate: float,
    duration: float,
    responder: asyncio.Task[None] | None,
    on_progress: Callable[[SimStats], None] | None,
) -> None:
    """Send the generator's events on schedule: event ``i`` at ``t0 + i / rate``."""
    total = math.floor(duration * rate)
    sent = 0
    t0 = time.monotonic()
    next_report = 1.0
    while True:
        elapsed = time.monotonic() - t0
        due = min(total, math.floor(elapsed * rate) + 1)
        for _ in range(due - sent):
            stream, event = next(events)
            stats.events_sent += 1
            stats.by_stream[stream.value] += 1
            await producer.send(event)
        sent = max(sent, due)
        stats.elapsed_s = elapsed
        stats.records_sent = producer.stats.records_sent
        if responder is not None and responder.done():
            responder.result()  # a failed responder fails the run
        if on_progress is not None and elapsed >= next_report:
            on_progress(stats)
            next_report = math.floor(elapsed) + 1.0
        if sent >= total and elapsed >= duration:
            break
        await asyncio.sleep(TICK_S)


@dataclass
class _Responder:
    """Answers this run's decisions with feedback, when the message would land."""

    settings: Settings
    producer: EventProducer
    population: list[Customer]
    seed: int
    started_at: datetime
    stats: SimStats
    _customers: dict[str, Customer] = field(init=False)
    _seen: set[str] = field(default_factory=set, init=False)
    #: (lands at, decision id, decision): decisions scheduled for later delivery.
    _pending: list[tuple[datetime, str, Decision]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._customers = {customer.customer_id: customer for customer in self.population}

    async def run(self) -> None:
        # No consumer group: joining one takes seconds on small brokers (a short
        # run would see nothing) and leaves a dead group per run. Reading every
        # partition from the beginning misses no decision emitted before we got
        # here; older runs' decisions are filtered out by ``decided_at``.
        consumer = AIOKafkaConsumer(
            **client_options(self.settings),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            await consumer.start()
            topic = self.settings.topics.decisions
            partitions = await _partitions(consumer, topic)
            consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
            await consumer.seek_to_beginning()
            while True:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    for record in records:
                        self._receive(record.value)
                await self._deliver_due(datetime.now(UTC))
        finally:
            await consumer.stop()

    def _receive(self, raw: bytes | None) -> None:
        try:
            decision = Decision.model_validate_json(raw or b"")
        except ValidationError:
            log.warning("skipping a record on the decisions topic that is not a decision")
            return
        if (
            decision.customer_id not in self._customers
            or decision.decided_at < self.started_at
            or decision.decision_id in self._seen
        ):
            return
        self._seen.add(decision.decision_id)
        self.stats.decisions_seen += 1
        heapq.heappush(self._pending, (decision.send_at, decision.decision_id, decision))

    async def _deliver_due(self, now: datetime) -> None:
        while self._pending and self._pending[0][0] <= now:
            _, decision_id, decision = heapq.heappop(self._pending)
            if decision.expires_at <= now:
                continue
            # Seeded per decision: the answer does not depend on arrival order.
            rng = random.Random(f"{self.seed}:{decision_id}")
            customer = self._customers[decision.customer_id]
            for stream, event in respond(decision, customer, rng, now):
                await self.producer.send(event)
                self.stats.events_sent += 1
                self.stats.feedback_sent += 1
                self.stats.by_stream[stream.value] += 1


async def _partitions(consumer: Any, topic: str) -> set[int]:
    """The partitions of ``topic``, waiting for the engine to create it if need be."""
    while True:
        await consumer.topics()  # refreshes cluster metadata
        partitions: set[int] | None = consumer.partitions_for_topic(topic)
        if partitions:
            return partitions
        await asyncio.sleep(1.0)
