"""The ingest step: a batch of raw records -> profiles in Redis + dead letters.

Independent of Faust (the agent only hands batches in), so it is tested
against real Redis and Kafka without a worker. A batch is acknowledged only
after this returns, i.e. after its effects are in Redis and its dead letters
are acknowledged by the broker: at-least-once delivery plus the idempotent
apply script gives each event exactly one effect.

Catalog events skip the profile step. The batch hooks (catalog triggers,
conversions) see every event applied or found to be a duplicate: a replayed
batch must redo their (idempotent) work.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from stream_app.clock import Clock, to_ms
from stream_app.events.catalog import ItemUpdate
from stream_app.events.deadletter import DeadLetter, RejectReason
from stream_app.events.decode import DecodeLimits, decode_record
from stream_app.events.encode import encode
from stream_app.events.registry import Event, Stream
from stream_app.events.sensor import SensorEvent, SensorReading
from stream_app.metrics.engine import EngineMetrics
from stream_app.profiles.fold import FoldConfig, fold
from stream_app.profiles.ops import ProfileUpdate
from stream_app.profiles.pseudonym import pseudonymize
from stream_app.storage.profiles import Outcome, ProfileStore
from stream_app.storage.stats import StatsStore
from stream_app.streaming.hooks import BatchHook
from stream_app.streaming.publisher import OutRecord, Publisher
from stream_app.streaming.retry import RedisRetry

log = logging.getLogger(__name__)

#: Where positive labels go: (customer, decision id) pairs that engaged -> counters.
LabelSink = Callable[[Sequence[tuple[str, str]], bool], Awaitable[Counter[str]]]

#: Dead letters are logged at most this often (as one summary line).
DEAD_LETTER_LOG_EVERY = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A consumed Kafka record, with the coordinates a dead letter points back to."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class IngestConfig:
    streams: Mapping[str, Stream]
    deadletter_topic: str
    limits: DecodeLimits
    fold: FoldConfig
    dlq_keep_bytes: int
    segment_debounce_ms: int | None = None


class IngestProcessor:
    def __init__(
        self,
        config: IngestConfig,
        profiles: ProfileStore,
        stats: StatsStore,
        publisher: Publisher,
        clock: Clock,
        retry: RedisRetry,
        labels: LabelSink | None = None,
        hooks: Sequence[BatchHook] = (),
        metrics: EngineMetrics | None = None,
    ) -> None:
        self._config = config
        self._profiles = profiles
        self._stats = stats
        self._publisher = publisher
        self._clock = clock
        self._retry = retry
        self._labels = labels
        self._hooks = tuple(hooks)
        self._metrics = metrics
        self._dead_unlogged: Counter[str] = Counter()
        self._dead_logged_at = datetime.min.replace(tzinfo=UTC)

    async def process(self, records: Sequence[RawRecord]) -> Counter[str]:
        """Apply one batch; returns the counters it added to the engine stats."""
        now = self._clock()
        batch = _Batch(now, self._config.dlq_keep_bytes)
        located: list[tuple[RawRecord, int | None, Event]] = []
        for record in records:
            batch.counters["records_in"] += 1
            stream = self._config.streams[record.topic]
            decoded = decode_record(stream, record.value or b"", self._config.limits, now)
            for rejection in decoded.rejections:
                batch.reject(record, rejection.reason, rejection.detail, rejection.index)
            batch.counters[f"events_in:{stream.value}"] += len(decoded.located)
            for index, event in decoded.located:
                batch.counters[f"events_type:{stream.value}:{event.type}"] += 1
                located.append((record, index, event))

        folded: list[tuple[RawRecord, int | None, ProfileUpdate]] = []
        device_only: list[tuple[RawRecord, int | None, SensorReading]] = []
        applied: list[tuple[str | None, Event]] = []
        by_update: dict[int, Event] = {}
        for record, index, event in located:
            if isinstance(event, ItemUpdate):
                applied.append((None, event))
            elif isinstance(event, SensorEvent) and event.customer_id is None:
                device_only.append((record, index, event))
            else:
                update = fold(event, _customer(event), self._config.fold)
                by_update[id(update)] = event
                folded.append((record, index, update))
        # Devices linked by traits earlier in this very batch count as known.
        linked = {token: u.customer_id for _, _, u in folded for token in u.device_tokens}
        owners = await self._device_owners([event for _, _, event in device_only], linked)
        for (record, index, sensed), owner in zip(device_only, owners, strict=True):
            if owner is None:
                batch.reject(record, RejectReason.UNKNOWN_DEVICE, "device not linked", index)
            else:
                update = fold(sensed, owner, self._config.fold)
                by_update[id(update)] = sensed
                folded.append((record, index, update))

        counters = batch.counters
        if folded:
            updates = [update for _, _, update in folded]
            segment_due = self._config.segment_debounce_ms
            started = time.perf_counter()
            outcomes = await self._retry(
                lambda: self._profiles.apply(
                    updates,
                    to_ms(now),
                    None if segment_due is None else to_ms(now) + segment_due,
                )
            )
            applied_at = self._clock()
            if self._metrics is not None:
                self._metrics.redis_batch.observe(time.perf_counter() - started)
            engaged: list[tuple[str, str]] = []
            for (record, index, update), outcome in zip(folded, outcomes, strict=True):
                if outcome in (Outcome.APPLIED, Outcome.CREATED) and update.engaged_with:
                    engaged.append((update.customer_id, update.engaged_with))
                if outcome is Outcome.TOO_LATE:
                    batch.reject(record, RejectReason.LATE_EVENT, "beyond allowed lateness", index)
                    continue
                if outcome is Outcome.ERASED:  # a forgotten customer: dropped, counted
                    counters["events_dropped:erased"] += 1
                    continue
                applied.append((update.customer_id, by_update[id(update)]))
                if self._metrics is not None and outcome is not Outcome.DUPLICATE:
                    lag_s = (applied_at - by_update[id(update)].event_time).total_seconds()
                    self._metrics.apply_latency.observe(max(lag_s, 0.0))
                counters[
                    "events_duplicate" if outcome is Outcome.DUPLICATE else "events_applied"
                ] += 1
                counters["profiles_created"] += outcome is Outcome.CREATED
            if engaged and self._labels is not None:
                counters.update(await self._labels(engaged, True))
        for hook in self._hooks:
            counters.update(await hook(applied, now))
        if batch.dead:
            topic = self._config.deadletter_topic
            await self._publisher.publish([OutRecord(topic, None, encode(d)) for d in batch.dead])
            self._note_dead_letters(counters, now)
        # Before the batch is acknowledged: a crash after this point replays the batch and
        # counts its events again as duplicates, never loses their count.
        await self._retry(lambda: self._stats.add(counters))
        return counters

    def _note_dead_letters(self, counters: Counter[str], now: datetime) -> None:
        """One log line per dead-letter burst: the first letter after a quiet spell, then
        at most one summary per ``DEAD_LETTER_LOG_EVERY``, never one line per record."""
        self._dead_unlogged.update({k: n for k, n in counters.items() if k.startswith("dead_")})
        if now - self._dead_logged_at < DEAD_LETTER_LOG_EVERY:
            return
        total = sum(self._dead_unlogged.values())
        log.warning(
            "dead-lettered %d record(s): %s",
            total,
            _reasons(self._dead_unlogged),
            extra={"event": "dead_letters", "count": total},
        )
        self._dead_unlogged = Counter()
        self._dead_logged_at = now

    async def _device_owners(
        self, events: Sequence[SensorReading], linked: Mapping[str, str]
    ) -> list[str | None]:
        """The customer of each device-only event: from this batch's links, else Redis."""
        secret = self._config.fold.pseudonym_secret
        tokens = [pseudonymize(secret, "device", event.device_id or "") for event in events]
        wanted = sorted({token for token in tokens if token not in linked})
        known = await self._retry(lambda: self._profiles.resolve_devices(wanted)) if wanted else {}
        return [linked.get(token) or known.get(token) for token in tokens]


class _Batch:
    """Counters and dead letters collected while one batch is processed."""

    def __init__(self, now: datetime, keep_bytes: int) -> None:
        self.now = now
        self.keep_bytes = keep_bytes
        self.counters: Counter[str] = Counter()
        self.dead: list[DeadLetter] = []

    def reject(
        self, record: RawRecord, reason: RejectReason, detail: str, index: int | None
    ) -> None:
        self.counters[f"dead_letters:{reason.value}"] += 1
        self.dead.append(
            DeadLetter.of(
                reason=reason,
                detail=detail,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                index=index,
                raw=record.value or b"",
                keep_bytes=self.keep_bytes,
                at=self.now,
            )
        )


def _customer(event: Event) -> str:
    """The customer an event names (every event but a device-only sensor event has one)."""
    customer_id = event.customer_id
    if customer_id is None:
        raise ValueError(f"{event.type} event {event.event_id} names no customer")
    return customer_id


def _reasons(counters: Counter[str]) -> str:
    return ", ".join(
        f"{name.split(':', 1)[1]}={n}" for name, n in counters.items() if name.startswith("dead_")
    )
