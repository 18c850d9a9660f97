"""``EventProducer``: publish contract events to the engine's inbound topics from Python.

Every event is validated against its stream's contract before anything is
sent (``InvalidEvent`` otherwise), keyed by ``record_key`` (the customer, else the
anonymous visitor's id), and packed into per-key envelopes when ``envelope_size`` > 1.
Records are filled into per-partition batches here (aiokafka's batch API) rather than
sent one by one: per-record futures and the pure-Python key hash cost more than parsing and
validating (about 80k records/s through ``send`` against 250k through batches
on the embedded broker). Partitions come from aiokafka's ``DefaultPartitioner``
(Kafka's murmur2 of the key), so every record lands where ``send(key=...)``
would have put it. A record the broker refuses (or whose topic it does not
have) is never dropped silently: the next ``send`` or ``flush`` raises
``DeliveryError`` naming its events.

    async with EventProducer(settings, envelope_size=20) as producer:
        await producer.send(event)  # a contract model, a dict or JSON bytes
    # leaving the block flushes and waits for the broker's acknowledgements
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from pydantic import BaseModel

from stream_app.events.encode import encode, record_key
from stream_app.events.eventlog import LineError, LineReason, parse_line
from stream_app.events.registry import Event, Stream
from stream_app.kafka import client_options
from stream_app.producers.envelopes import ENVELOPE_MAX_BYTES, EnvelopePacker, PackedRecord
from stream_app.settings import Settings

#: A record batch is sent when full (this size) or ``LINGER_S`` after its first record.
BATCH_BYTES = 256 * 1024
LINGER_S = 0.005
#: A partial envelope waits at most this long for more events of its key.
ENVELOPE_MAX_WAIT_S = 0.1
#: Cached partitions per topic; cleared when larger (keys are customers: unbounded).
PARTITION_CACHE_SIZE = 1_000_000


class InvalidEvent(ValueError):
    """An event its contract refuses; nothing was sent."""

    def __init__(self, error: LineError) -> None:
        super().__init__(f"{error.reason.value}: {error.detail}")
        self.error = error


class DeliveryError(RuntimeError):
    """The broker did not take some records; ``failed`` names the events they held."""

    def __init__(self, failed: tuple[str, ...], cause: BaseException) -> None:
        super().__init__(f"{len(failed)} events not delivered: {cause!r}")
        self.failed = failed


@dataclass(frozen=True, slots=True)
class Checked:
    """An event its contract accepted: its stream, the model, and the bytes to send."""

    stream: Stream
    event: Event
    value: bytes


def check(event: BaseModel | Mapping[str, Any] | bytes) -> Checked:
    """Validate ``event`` against the contract its ``type`` names; raises ``InvalidEvent``.

    JSON bytes are sent as given (a recorded log line goes out as recorded):

    >>> line = b'{"type":"app_open","event_id":"e1","customer_id":"c1",'
    >>> line += b'"event_time":"2026-01-01T11:59:00Z"}'
    >>> check(line).stream.value
    'clickstream'
    >>> check({"type": "app_open", "event_id": "e2"})
    Traceback (most recent call last):
    ...
    stream_app.producers.producer.InvalidEvent: schema_violation: ...
    """
    if isinstance(event, bytes):
        value = event
    elif isinstance(event, BaseModel):
        value = encode(event)
    else:
        try:
            value = orjson.dumps(event)
        except orjson.JSONEncodeError as exc:
            raise InvalidEvent(LineError(LineReason.NOT_JSON, str(exc))) from exc
    parsed = parse_line(value)
    if isinstance(parsed, LineError):
        raise InvalidEvent(parsed)
    stream, model = parsed
    return Checked(stream, model, value)


@dataclass(slots=True)
class DeliveryStats:
    """What the broker acknowledged so far."""

    events_sent: int = 0
    records_sent: int = 0


@dataclass(slots=True)
class _Batch:
    """A record batch being filled for one partition, and the events in it."""

    builder: Any
    started: float
    records: int = 0
    event_ids: list[str] = field(default_factory=list)


class EventProducer:
    """Validated, enveloped, batched publishing onto the engine's inbound topics.

    ``envelope_size`` events of one key share a record (1: one event per
    record); a partial envelope waits ``ENVELOPE_MAX_WAIT_S`` for more. ``headers``
    go on every record (``events.backfill.BACKFILL_HEADERS`` marks them as history).
    ``on_acknowledged`` is told the event ids of each record batch the broker took
    (a resumable load advances its position with them).
    Extra keyword ``options`` go to ``AIOKafkaProducer`` (e.g. ``max_request_size``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        envelope_size: int = 1,
        client_id: str = "stream-app-producer",
        headers: Sequence[tuple[str, bytes]] = (),
        on_acknowledged: Callable[[list[str]], None] | None = None,
        **options: Any,
    ) -> None:
        if not 1 <= envelope_size <= settings.worker.max_events_per_record:
            raise ValueError(
                f"envelope_size must be in [1, {settings.worker.max_events_per_record}]"
            )
        self._producer = AIOKafkaProducer(
            **client_options(settings),
            client_id=client_id,
            max_batch_size=BATCH_BYTES,
            linger_ms=0,  # batches linger here (LINGER_S) before they reach the producer
            **options,
        )
        self._topics = {stream: settings.topics.for_stream(stream) for stream in Stream}
        self._packer = EnvelopePacker(
            envelope_size, min(settings.worker.max_record_bytes, ENVELOPE_MAX_BYTES)
        )
        self.stats = DeliveryStats()
        self._headers = list(headers)
        self._on_acknowledged = on_acknowledged
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        self._partition_of: dict[str, dict[bytes, int]] = {}
        self._batches: dict[tuple[str, int], _Batch] = {}
        #: Submitted batches and their delivery futures, oldest first.
        self._inflight: deque[tuple[asyncio.Future[Any], _Batch]] = deque()
        self._failed: list[str] = []
        self._failure: BaseException | None = None
        #: One sender at a time (the caller's or the linger task), so per-key order holds.
        self._lock = asyncio.Lock()
        self._linger: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect, and start sending what lingered long enough in the background."""
        await self._producer.start()
        self._linger = asyncio.create_task(self._linger_loop(), name="event-producer-linger")

    async def stop(self) -> None:
        """Disconnect; what was not flushed is dropped (``flush`` first to keep it)."""
        if self._linger is not None:
            self._linger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._linger
        await self._producer.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                await self.flush()
        finally:
            await self.stop()

    async def send(self, event: BaseModel | Mapping[str, Any] | bytes) -> Checked:
        """Validate ``event`` and queue it for its stream's topic; returns what was checked."""
        checked = check(event)
        await self.send_checked(checked)
        return checked

    async def send_checked(self, checked: Checked) -> None:
        """Queue an event ``check`` accepted (callers that validate ahead, like replay)."""
        self._raise_failed()
        topic = self._topics[checked.stream]
        async with self._lock:
            now = time.monotonic()
            key = record_key(checked.event)
            for record in self._packer.add(
                topic, key, checked.value, checked.event.event_id, now=now
            ):
                await self._add(record, now)
        self._raise_failed()  # this event's record may have been refused at once

    async def send_unchecked(self, stream: Stream, value: bytes, key: bytes) -> None:
        """Queue ``value`` as one record, bypassing the contracts: only for showing
        what the worker does with bad records (the demo, tests)."""
        self._raise_failed()
        async with self._lock:
            now = time.monotonic()
            await self._add(PackedRecord(self._topics[stream], key, value, ()), now)
        self._raise_failed()

    async def flush(self) -> DeliveryStats:
        """Send everything queued and wait for the broker; raises ``DeliveryError`` if
        any record since the last check was refused."""
        async with self._lock:
            now = time.monotonic()
            for record in self._packer.drain():
                await self._add(record, now)
            for tp in list(self._batches):
                await self._submit(tp)
            await self._settle(wait=True)
        self._raise_failed()
        return self.stats

    async def _linger_loop(self) -> None:
        while True:
            await asyncio.sleep(LINGER_S)
            async with self._lock:
                now = time.monotonic()
                for record in self._packer.due(now - ENVELOPE_MAX_WAIT_S):
                    await self._add(record, now)
                for tp, batch in list(self._batches.items()):
                    if now - batch.started >= LINGER_S:
                        await self._submit(tp)
                await self._settle(wait=False)

    async def _add(self, record: PackedRecord, now: float) -> None:
        """Append a record to its partition's batch; a full batch is submitted."""
        try:
            tp = (record.topic, await self._partition(record.topic, record.key))
        except KafkaError as exc:  # e.g. a topic the broker does not have
            self._refused(record.event_ids, exc)
            return
        batch = self._batches.get(tp)
        headers = self._headers
        if (
            batch is not None
            and batch.builder.append(
                key=record.key, value=record.value, timestamp=None, headers=headers
            )
            is None
        ):
            await self._submit(tp)
            batch = None
        if batch is None:
            batch = self._batches[tp] = _Batch(self._producer.create_batch(), now)
            batch.builder.append(
                key=record.key, value=record.value, timestamp=None, headers=headers
            )
        batch.records += 1
        batch.event_ids.extend(record.event_ids)

    async def _partition(self, topic: str, key: bytes) -> int:
        every = self._partitions.get(topic)
        if every is None:
            every = self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        cache = self._partition_of.setdefault(topic, {})
        partition = cache.get(key)
        if partition is None:
            if len(cache) >= PARTITION_CACHE_SIZE:
                cache.clear()
            partition = cache[key] = self._partitioner(key, every, every)
        return partition

    async def _submit(self, tp: tuple[str, int]) -> None:
        batch = self._batches.pop(tp)
        topic, partition = tp
        try:
            future = await self._producer.send_batch(batch.builder, topic, partition=partition)
        except KafkaError as exc:
            self._refused(batch.event_ids, exc)
            return
        self._inflight.append((future, batch))

    async def _settle(self, *, wait: bool) -> None:
        """Count acknowledged batches (all of them if ``wait``); note the refused ones."""
        inflight = self._inflight
        while inflight and (wait or inflight[0][0].done()):
            future, batch = inflight.popleft()
            try:
                await future
            except Exception as exc:  # every refusal is surfaced, naming its events
                self._refused(batch.event_ids, exc)
                continue
            self.stats.records_sent += batch.records
            self.stats.events_sent += len(batch.event_ids)
            if self._on_acknowledged is not None:
                self._on_acknowledged(batch.event_ids)

    def _refused(self, event_ids: Sequence[str], cause: BaseException) -> None:
        """Note events the broker did not take; the next ``send`` or ``flush`` raises."""
        self._failed.extend(event_ids)
        self._failure = cause

    def _raise_failed(self) -> None:
        if self._linger is not None and self._linger.done() and not self._linger.cancelled():
            self._linger.result()  # the background sender failed: so does the producer
        if self._failure is not None:
            failed, cause = tuple(self._failed), self._failure
            self._failed, self._failure = [], None
            raise DeliveryError(failed, cause) from cause
