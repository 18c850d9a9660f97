"""The ingest step: a batch of raw records -> profiles in Redis + dead letters.

Independent of Faust (the agent only hands batches in), so it is tested
against real Redis and Kafka without a worker. A batch is acknowledged only
after this returns, i.e. after its effects are in Redis and its dead letters
are acknowledged by the broker: at-least-once delivery plus the idempotent
apply script gives each event exactly one effect.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stream_app.clock import Clock, to_ms
from stream_app.events.deadletter import DeadLetter, RejectReason
from stream_app.events.decode import DecodeLimits, decode_record
from stream_app.events.encode import encode
from stream_app.events.registry import Event, Stream
from stream_app.events.sensor import SensorEvent
from stream_app.profiles.fold import FoldConfig, fold
from stream_app.profiles.ops import ProfileUpdate
from stream_app.profiles.pseudonym import pseudonymize
from stream_app.storage.profiles import CREATED, DUPLICATE, ProfileStore
from stream_app.storage.schedule import StatsStore
from stream_app.streaming.publisher import OutRecord, Publisher
from stream_app.streaming.retry import RedisRetry

log = logging.getLogger(__name__)


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


class IngestProcessor:
    def __init__(
        self,
        config: IngestConfig,
        profiles: ProfileStore,
        stats: StatsStore,
        publisher: Publisher,
        clock: Clock,
        retry: RedisRetry,
    ) -> None:
        self._config = config
        self._profiles = profiles
        self._stats = stats
        self._publisher = publisher
        self._clock = clock
        self._retry = retry

    async def process(self, records: Sequence[RawRecord]) -> Counter[str]:
        """Apply one batch; returns the counters it added to the engine stats."""
        now = self._clock()
        counters: Counter[str] = Counter()
        dead: list[DeadLetter] = []
        located: list[tuple[RawRecord, int | None, Event]] = []

        def reject(record: RawRecord, reason: RejectReason, detail: str, index: int | None) -> None:
            counters[f"dead_letters:{reason.value}"] += 1
            dead.append(
                DeadLetter.of(
                    reason=reason,
                    detail=detail,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    index=index,
                    raw=record.value or b"",
                    keep_bytes=self._config.dlq_keep_bytes,
                    at=now,
                )
            )

        for record in records:
            counters["records_in"] += 1
            stream = self._config.streams[record.topic]
            decoded = decode_record(stream, record.value or b"", self._config.limits, now)
            for rejection in decoded.rejections:
                reject(record, rejection.reason, rejection.detail, rejection.index)
            for index, event in enumerate(decoded.events):
                counters[f"events_in:{stream.value}"] += 1
                envelope_index = index if len(decoded.events) + len(decoded.rejections) > 1 else None
                located.append((record, envelope_index, event))

        owners = await self._resolve_devices([event for _, _, event in located])
        updates: list[ProfileUpdate] = []
        for record, index, event in located:
            customer_id = owners.get(id(event))
            if customer_id is None:
                reject(record, RejectReason.UNKNOWN_DEVICE, "device not linked to a customer", index)
                continue
            updates.append(fold(event, customer_id, self._config.fold))

        if updates:
            outcomes = await self._retry(lambda: self._profiles.apply(updates, to_ms(now)))
            for outcome in outcomes:
                counters["events_duplicate" if outcome == DUPLICATE else "events_applied"] += 1
                counters["profiles_created"] += outcome == CREATED
        if dead:
            topic = self._config.deadletter_topic
            await self._publisher.publish([OutRecord(topic, None, encode(d)) for d in dead])
            log.warning("dead-lettered %d record(s): %s", len(dead), _reasons(counters))
        await self._retry(lambda: self._stats.add(counters))
        return counters

    async def _resolve_devices(self, events: Sequence[Event]) -> dict[int, str]:
        """Customer of each event, keyed by ``id(event)``; device-only events looked up."""
        owners: dict[int, str] = {}
        tokens: dict[int, str] = {}
        for event in events:
            customer_id = getattr(event, "customer_id", None)
            if customer_id is not None:
                owners[id(event)] = customer_id
            elif isinstance(event, SensorEvent) and event.device_id is not None:
                secret = self._config.fold.pseudonym_secret
                tokens[id(event)] = pseudonymize(secret, "device", event.device_id)
        if tokens:
            wanted = sorted(set(tokens.values()))
            known = await self._retry(lambda: self._profiles.resolve_devices(wanted))
            owners.update({key: known[t] for key, t in tokens.items() if t in known})
        return owners


def _reasons(counters: Counter[str]) -> str:
    return ", ".join(
        f"{name.split(':', 1)[1]}={n}" for name, n in counters.items() if name.startswith("dead_")
    )
