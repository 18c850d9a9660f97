"""Edge runner of event logs: publishes a recorded JSON-lines log onto the engine's topics.

Each valid line goes to its stream's topic as it was recorded (the original
bytes, keyed by ``record_key``), alone or in per-customer envelopes; invalid
lines are counted and reported, never sent. By default as fast as the broker
takes it; with ``speedup`` paced by the recorded event times.

For throughput, record batches are filled here (aiokafka's batch API) instead
of calling ``send`` per record: per-record futures and the pure-Python key hash
cost more than parsing and validating (about 80k records/s through ``send``
against 250k through batches, measured on the embedded broker). Partitions
come from aiokafka's ``DefaultPartitioner`` (Kafka's murmur2 of the key), so
every record lands where ``send(key=...)`` would have put it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from stream_app.events.encode import record_key
from stream_app.events.eventlog import LineError, parse_line
from stream_app.events.registry import Stream
from stream_app.settings import Settings
from stream_app.streaming.kafka import client_options
from stream_app.streaming.topics import ensure_topics

#: The file is read in blocks of this size, off the event loop.
READ_BLOCK_BYTES = 1 << 20
#: Invalid lines kept with their details; later ones are only counted.
MAX_REPORTED_INVALID = 20
#: A record batch is sent when full (this size) or ``LINGER_S`` after its first record.
BATCH_BYTES = 256 * 1024
LINGER_S = 0.005
#: A partial envelope waits at most this long for more events of its customer.
ENVELOPE_MAX_WAIT_S = 0.1
#: Envelopes stay under Kafka's default 1 MB ``message.max.bytes`` with batch overhead.
ENVELOPE_MAX_BYTES = 1_000_000
#: Lines between two housekeeping rounds (lingering batches, acks, progress).
CHECK_EVERY_LINES = 512
PROGRESS_EVERY_S = 1.0
#: While pacing, the longest sleep between two housekeeping rounds.
IDLE_TICK_S = 0.05
#: Cached partitions per topic; cleared when larger (keys are customers: unbounded).
PARTITION_CACHE_SIZE = 1_000_000


@dataclass(frozen=True, slots=True)
class InvalidLine:
    """A line that was not sent; ``number`` counts from 1, like editors do."""

    number: int
    error: LineError


@dataclass(slots=True)
class ReplayStats:
    """What a replay did; ``*_sent`` count what the broker acknowledged."""

    lines: int = 0
    events_sent: int = 0
    records_sent: int = 0
    invalid: int = 0
    #: The first ``MAX_REPORTED_INVALID`` invalid lines; ``invalid`` counts them all.
    invalid_lines: list[InvalidLine] = field(default_factory=list)
    #: Valid events read, per stream.
    by_stream: Counter[Stream] = field(default_factory=Counter)
    elapsed_s: float = 0.0


async def replay_file(
    settings: Settings,
    path: Path,
    *,
    speedup: float | None = None,
    envelope_size: int = 1,
    on_progress: Callable[[ReplayStats], None] | None = None,
) -> ReplayStats:
    """Publish the event log at ``path``; returns once the broker acknowledged every record.

    ``speedup`` X sends each event X times faster than recorded (1 = real
    time), measured from the first valid event; ``None`` sends at full speed.
    With ``envelope_size`` > 1, successive events of one key on one topic are
    grouped, in log order, into envelopes of up to that many (and at most
    ``max_record_bytes``), each sent when full or ``ENVELOPE_MAX_WAIT_S`` after
    its first event. Missing topics are created first, with the configured
    partitions, as the worker would. ``on_progress`` is called about once a second.
    """
    if speedup is not None and speedup <= 0:
        raise ValueError("speedup must be > 0")
    if not 1 <= envelope_size <= settings.worker.max_events_per_record:
        raise ValueError(f"envelope_size must be in [1, {settings.worker.max_events_per_record}]")
    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        **client_options(settings),
        client_id="stream-app-replay",
        max_batch_size=BATCH_BYTES,
        linger_ms=0,  # batches linger here (LINGER_S) before they reach the producer
    )
    await producer.start()
    try:
        topics = {stream: settings.topics.for_stream(stream) for stream in Stream}
        partitions = {
            topic: sorted(await producer.partitions_for(topic)) for topic in topics.values()
        }
        envelope_bytes = min(settings.worker.max_record_bytes, ENVELOPE_MAX_BYTES)
        run = _Replay(producer, topics, partitions, envelope_size, envelope_bytes, on_progress)
        return await run.run(path, speedup)
    finally:
        await producer.stop()


@dataclass(slots=True)
class _Batch:
    """A record batch being filled for one partition."""

    builder: Any
    started: float
    records: int = 0
    events: int = 0


@dataclass(slots=True)
class _Envelope:
    """Lines of one key on one topic, waiting to be sent together."""

    started: float
    lines: list[bytes] = field(default_factory=list)
    size: int = 0


class _Replay:
    """One pass over a log: parse, pace, group, batch and send."""

    def __init__(
        self,
        producer: Any,
        topics: dict[Stream, str],
        partitions: dict[str, list[int]],
        envelope_size: int,
        envelope_bytes: int,
        on_progress: Callable[[ReplayStats], None] | None,
    ) -> None:
        self._producer = producer
        self._topics = topics
        self._partitions = partitions
        self._envelope_size = envelope_size
        self._envelope_bytes = envelope_bytes
        self._on_progress = on_progress
        self._stats = ReplayStats()
        self._partitioner = DefaultPartitioner()
        self._partition_of: dict[str, dict[bytes, int]] = {topic: {} for topic in partitions}
        #: Open batches per (topic, partition), and full ones not submitted yet.
        self._batches: dict[tuple[str, int], _Batch] = {}
        self._full: list[tuple[tuple[str, int], _Batch]] = []
        #: Open envelopes per (topic, key), oldest first.
        self._envelopes: OrderedDict[tuple[str, bytes], _Envelope] = OrderedDict()
        #: Submitted batches: (delivery future, records, events), oldest first.
        self._inflight: deque[tuple[asyncio.Future[Any], int, int]] = deque()
        #: The first valid event's time and the monotonic time it was read at.
        self._origin: tuple[datetime, float] | None = None
        self._t0 = time.monotonic()
        self._next_progress = PROGRESS_EVERY_S

    async def run(self, path: Path, speedup: float | None) -> ReplayStats:
        stats = self._stats
        topics = self._topics
        enveloping = self._envelope_size > 1
        number = 0
        async with aclosing(_read_lines(path)) as blocks:
            async for lines in blocks:
                for line in lines:
                    number += 1
                    parsed = parse_line(line)
                    if isinstance(parsed, LineError):
                        stats.invalid += 1
                        if len(stats.invalid_lines) < MAX_REPORTED_INVALID:
                            stats.invalid_lines.append(InvalidLine(number, parsed))
                        continue
                    stream, event = parsed
                    stats.by_stream[stream] += 1
                    if speedup is not None:
                        await self._pace(event.event_time, speedup)
                    topic, key = topics[stream], record_key(event)
                    if enveloping:
                        full = self._envelop(topic, key, line)
                    else:
                        full = self._add(topic, key, line, 1)
                    if full:
                        await self._submit_full()
                    if number % CHECK_EVERY_LINES == 0:
                        await self._housekeeping()
                stats.lines = number
        await self._housekeeping(all_envelopes=True, all_batches=True)
        await self._settle(wait=True)
        stats.elapsed_s = time.monotonic() - self._t0
        return stats

    async def _pace(self, event_time: datetime, speedup: float) -> None:
        """Wait until ``event_time`` is due; meanwhile everything read so far goes out."""
        if self._origin is None:
            self._origin = (event_time, time.monotonic())
        first_time, first_read = self._origin
        due = first_read + (event_time - first_time).total_seconds() / speedup
        while (wait := due - time.monotonic()) > 0:
            await self._housekeeping(all_batches=True)
            await asyncio.sleep(min(wait, IDLE_TICK_S))

    def _envelop(self, topic: str, key: bytes, line: bytes) -> bool:
        """Add ``line`` to its key's envelope; True when a record batch became full."""
        full = False
        envelope = self._envelopes.get((topic, key))
        if envelope is not None and envelope.size + len(line) + 1 > self._envelope_bytes:
            full = self._close_envelope(topic, key)
            envelope = None
        if envelope is None:
            envelope = self._envelopes[(topic, key)] = _Envelope(time.monotonic())
        envelope.lines.append(line)
        envelope.size += len(line) + 1
        if len(envelope.lines) >= self._envelope_size:
            full = self._close_envelope(topic, key) or full
        return full

    def _close_envelope(self, topic: str, key: bytes) -> bool:
        lines = self._envelopes.pop((topic, key)).lines
        value = b'{"events":[' + b",".join(lines) + b"]}"
        return self._add(topic, key, value, len(lines))

    def _add(self, topic: str, key: bytes, value: bytes, events: int) -> bool:
        """Append a record to its partition's batch; True when that batch was full."""
        cache = self._partition_of[topic]
        partition = cache.get(key)
        if partition is None:
            if len(cache) >= PARTITION_CACHE_SIZE:
                cache.clear()
            every = self._partitions[topic]
            partition = cache[key] = self._partitioner(key, every, every)
        tp = (topic, partition)
        full = False
        batch = self._batches.get(tp)
        if batch is not None and batch.builder.append(key=key, value=value, timestamp=None) is None:
            self._full.append((tp, self._batches.pop(tp)))
            batch, full = None, True
        if batch is None:
            batch = self._batches[tp] = _Batch(self._producer.create_batch(), time.monotonic())
            batch.builder.append(key=key, value=value, timestamp=None)  # a first record always fits
        batch.records += 1
        batch.events += events
        return full

    async def _submit_full(self) -> None:
        full, self._full = self._full, []
        for tp, batch in full:
            await self._submit(tp, batch)

    async def _submit(self, tp: tuple[str, int], batch: _Batch) -> None:
        topic, partition = tp
        future = await self._producer.send_batch(batch.builder, topic, partition=partition)
        self._inflight.append((future, batch.records, batch.events))

    async def _housekeeping(
        self, *, all_envelopes: bool = False, all_batches: bool = False
    ) -> None:
        """Send what waited long enough (or everything), count acknowledgements, report."""
        now = time.monotonic()
        envelopes = self._envelopes
        while envelopes:
            topic, key = next(iter(envelopes))  # the oldest (O(1) in an OrderedDict)
            if not all_envelopes and now - envelopes[(topic, key)].started < ENVELOPE_MAX_WAIT_S:
                break
            self._close_envelope(topic, key)
        await self._submit_full()
        for tp, batch in list(self._batches.items()):
            if all_batches or now - batch.started >= LINGER_S:
                await self._submit(tp, self._batches.pop(tp))
        await self._settle(wait=False)
        self._stats.elapsed_s = now - self._t0
        if self._on_progress is not None and self._stats.elapsed_s >= self._next_progress:
            self._on_progress(self._stats)
            self._next_progress = self._stats.elapsed_s + PROGRESS_EVERY_S

    async def _settle(self, *, wait: bool) -> None:
        """Count acknowledged batches (all of them if ``wait``); a failed one fails the replay."""
        inflight = self._inflight
        while inflight and (wait or inflight[0][0].done()):
            future, records, events = inflight.popleft()
            await future
            self._stats.records_sent += records
            self._stats.events_sent += events


async def _read_lines(path: Path) -> AsyncGenerator[list[bytes], None]:
    """The file's lines (without line ends), a block at a time, read off the event loop."""
    file = await asyncio.to_thread(lambda: path.open("rb"))
    try:
        tail = b""
        while block := await asyncio.to_thread(file.read, READ_BLOCK_BYTES):
            lines = (tail + block).split(b"\n")
            tail = lines.pop()
            yield lines
        if tail:
            yield [tail]
    finally:
        file.close()
