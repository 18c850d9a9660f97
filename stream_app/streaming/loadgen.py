"""Edge runner of the simulator: paces generated events onto Kafka and answers decisions.

The generator is pure and timeless; here its event ``i`` is sent at
``t0 + i / rate`` on the monotonic clock and stamped with wall-clock start plus
the same offset, so the stream looks live to the engine. Decisions the engine
emits for this run's customers get plausible feedback (and conversions) back.
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

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel, ValidationError

from stream_app.events.decision import Decision
from stream_app.events.encode import encode, encode_envelope, record_key
from stream_app.events.topics import TopicNames
from stream_app.settings import Settings
from stream_app.simulation.catalog import make_catalog
from stream_app.simulation.feedback import respond
from stream_app.simulation.generator import EventGenerator
from stream_app.simulation.population import Customer, make_population
from stream_app.streaming.kafka import client_options

log = logging.getLogger(__name__)

#: Pacing step: events due by now are generated and sent once per tick.
TICK_S = 0.05
#: A partial envelope waits at most this long for more events of its customer.
ENVELOPE_MAX_WAIT_S = 0.1


@dataclass(slots=True)
class SimStats:
    """What a run did; ``events_sent`` and ``by_stream`` include the responses."""

    events_sent: int = 0
    records_sent: int = 0
    by_stream: Counter[str] = field(default_factory=Counter)
    decisions_seen: int = 0
    feedback_sent: int = 0
    elapsed_s: float = 0.0


async def run_simulation(
    settings: Settings,
    *,
    customers: int,
    rate: float,
    duration: float,
    seed: int,
    envelope_size: int = 1,
    respond_to_decisions: bool = True,
    on_progress: Callable[[SimStats], None] | None = None,
) -> SimStats:
    """Produce ``duration`` seconds of simulated traffic at ``rate`` events/s.

    With ``envelope_size`` > 1, events are sent as envelopes of up to that many
    events of one customer (one record key), so partitioning stays per
    customer. ``on_progress`` is called about once a second.
    """
    if customers < 1 or rate <= 0 or duration < 0:
        raise ValueError("need customers >= 1, rate > 0 and duration >= 0")
    if not 1 <= envelope_size <= settings.worker.max_events_per_record:
        raise ValueError(f"envelope_size must be in [1, {settings.worker.max_events_per_record}]")
    population = make_population(customers, seed)
    catalog = make_catalog(seed)
    stats = SimStats()
    producer = AIOKafkaProducer(
        **client_options(settings),
        client_id="stream-app-simulator",
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    responder: asyncio.Task[None] | None = None
    try:
        await producer.start()
        started_at = datetime.now(UTC)  # after connecting, so event times match send times
        events = EventGenerator(population, catalog, seed, started_at, rate)
        if respond_to_decisions:
            answer = _Responder(settings, producer, population, seed, started_at, stats)
            responder = asyncio.create_task(answer.run(), name="simulator-responder")
        pacer = _Pacer(settings.topics, producer, events, envelope_size, stats)
        await pacer.run(rate, duration, responder, on_progress)
    finally:
        if responder is not None:
            responder.cancel()
            await asyncio.gather(responder, return_exceptions=True)
        await producer.stop()  # flushes what is still buffered
    return stats


class _Pacer:
    """Sends the generator's events on schedule, alone or in per-customer envelopes."""

    def __init__(
        self,
        topics: TopicNames,
        producer: Any,
        events: EventGenerator,
        envelope_size: int,
        stats: SimStats,
    ) -> None:
        self._topics = topics
        self._producer = producer
        self._events = events
        self._envelope_size = envelope_size
        self._stats = stats
        #: (topic, key) -> (monotonic time of the first event, events); insertion-ordered.
        self._open: dict[tuple[str, bytes], tuple[float, list[BaseModel]]] = {}

    async def run(
        self,
        rate: float,
        duration: float,
        responder: asyncio.Task[None] | None,
        on_progress: Callable[[SimStats], None] | None,
    ) -> None:
        total = math.floor(duration * rate)
        sent = 0
        t0 = time.monotonic()
        next_report = 1.0
        while True:
            now = time.monotonic()
            elapsed = now - t0
            due = min(total, math.floor(elapsed * rate) + 1)
            futures: list[asyncio.Future[Any]] = []
            for _ in range(due - sent):
                stream, event = next(self._events)
                self._stats.events_sent += 1
                self._stats.by_stream[stream.value] += 1
                await self._add(self._topics.for_stream(stream), event, now, futures)
            sent = max(sent, due)
            await self._flush(now - (ENVELOPE_MAX_WAIT_S - TICK_S), futures)
            await self._settle(futures)
            self._stats.elapsed_s = elapsed
            if responder is not None and responder.done():
                responder.result()  # a failed responder fails the run
            if on_progress is not None and elapsed >= next_report:
                on_progress(self._stats)
                next_report = math.floor(elapsed) + 1.0
            if sent >= total and elapsed >= duration:
                break
            await asyncio.sleep(TICK_S)
        futures = []
        await self._flush(math.inf, futures)
        await self._settle(futures)

    async def _add(
        self, topic: str, event: BaseModel, now: float, futures: list[asyncio.Future[Any]]
    ) -> None:
        key = record_key(event)
        if self._envelope_size == 1:
            futures.append(await self._producer.send(topic, encode(event), key=key))
            return
        _, batch = self._open.setdefault((topic, key), (now, []))
        batch.append(event)
        if len(batch) >= self._envelope_size:
            del self._open[(topic, key)]
            futures.append(await self._producer.send(topic, encode_envelope(batch), key=key))

    async def _flush(self, cutoff: float, futures: list[asyncio.Future[Any]]) -> None:
        """Send partial envelopes whose first event arrived at or before ``cutoff``."""
        for (topic, key), (first, batch) in list(self._open.items()):
            if first <= cutoff:
                del self._open[(topic, key)]
                futures.append(await self._producer.send(topic, encode_envelope(batch), key=key))

    async def _settle(self, futures: list[asyncio.Future[Any]]) -> None:
        """Wait for this tick's records to be acknowledged; a send failure ends the run."""
        if futures:
            await asyncio.gather(*futures)
            self._stats.records_sent += len(futures)


class _Responder:
    """Answers this run's decisions with feedback, when the message would land."""

    def __init__(
        self,
        settings: Settings,
        producer: Any,
        population: list[Customer],
        seed: int,
        started_at: datetime,
        stats: SimStats,
    ) -> None:
        self._settings = settings
        self._producer = producer
        self._customers = {customer.customer_id: customer for customer in population}
        self._seed = seed
        self._started_at = started_at
        self._stats = stats
        self._seen: set[str] = set()
        #: (lands at, decision id, decision): decisions scheduled for later delivery.
        self._pending: list[tuple[datetime, str, Decision]] = []

    async def run(self) -> None:
        # No consumer group: joining one takes seconds on small brokers (a short
        # run would see nothing) and leaves a dead group per run. Reading every
        # partition from the beginning misses no decision emitted before we got
        # here; older runs' decisions are filtered out by ``decided_at``.
        consumer = AIOKafkaConsumer(
            **client_options(self._settings),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            await consumer.start()
            topic = self._settings.topics.decisions
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
            or decision.decided_at < self._started_at
            or decision.decision_id in self._seen
        ):
            return
        self._seen.add(decision.decision_id)
        self._stats.decisions_seen += 1
        heapq.heappush(self._pending, (decision.send_at, decision.decision_id, decision))

    async def _deliver_due(self, now: datetime) -> None:
        futures: list[asyncio.Future[Any]] = []
        while self._pending and self._pending[0][0] <= now:
            _, decision_id, decision = heapq.heappop(self._pending)
            if decision.expires_at <= now:
                continue
            # Seeded per decision: the answer does not depend on arrival order.
            rng = random.Random(f"{self._seed}:{decision_id}")
            customer = self._customers[decision.customer_id]
            for stream, event in respond(decision, customer, rng, now):
                topic = self._settings.topics.for_stream(stream)
                futures.append(
                    await self._producer.send(topic, encode(event), key=record_key(event))
                )
                self._stats.events_sent += 1
                self._stats.feedback_sent += 1
                self._stats.by_stream[stream.value] += 1
        if futures:
            await asyncio.gather(*futures)
            self._stats.records_sent += len(futures)


async def _partitions(consumer: Any, topic: str) -> set[int]:
    """The partitions of ``topic``, waiting for the engine to create it if need be."""
    while True:
        await consumer.topics()  # refreshes cluster metadata
        partitions: set[int] | None = consumer.partitions_for_topic(topic)
        if partitions:
            return partitions
        await asyncio.sleep(1.0)
