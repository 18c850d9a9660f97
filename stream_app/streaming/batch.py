"""A batch of records as the one pass needs it: profile updates by customer, catalog
updates, device-only sensor readings waiting for their owner, and dead letters.

Decoding is per record (a record holds one event or an envelope); everything after
it is per batch, so a batch of single-event records costs what an envelope costs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

from stream_app.clock import from_ms
from stream_app.counts import Counts, EventsIn, Labelled, Plain, add
from stream_app.events.backfill import is_backfill
from stream_app.events.catalog import ItemUpdate
from stream_app.events.deadletter import DeadLetter, RejectReason
from stream_app.events.decode import Decoder
from stream_app.events.encode import event_dict
from stream_app.events.late import LateEvent
from stream_app.events.limits import DecodeLimits
from stream_app.events.registry import Event, Stream
from stream_app.events.reviews import Remark
from stream_app.events.sensor import SensorEvent
from stream_app.profiles.fold import FoldConfig, fold
from stream_app.profiles.identity import anonymous_profile_id
from stream_app.profiles.ops import ProfileUpdate
from stream_app.profiles.pseudonym import pseudonymize
from stream_app.storage.customers import Ask
from stream_app.storage.layout import event_key
from stream_app.storage.parking import Parking
from stream_app.streaming.remarks import Listener


class RecordLike(Protocol):
    """A consumed Kafka record (aiokafka's, or a test's), and where a dead letter points."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


class Located(NamedTuple):
    """An event, its time (epoch ms) and the record (and envelope position) it came in
    (a tuple: one is made per event)."""

    record: RecordLike
    #: Its place in an envelope (None: the record held it alone).
    position: int | None
    event: Event
    ms: int
    stream: Stream

    @property
    def key(self) -> str:
        """The event id as the customer's id index stores it (a parked reading's; a
        return is indexed by its return id, ``Batch.keys``)."""
        return event_key(self.event.event_id)


@dataclass(frozen=True, slots=True)
class BatchConfig:
    streams: Mapping[str, Stream]
    limits: DecodeLimits
    fold: FoldConfig
    dlq_keep_bytes: int
    #: How long a reading of an unlinked device waits, and how many wait per device.
    device_grace_ms: int
    device_parked_max: int
    #: Scores reviews and comments before the fold (None: they leave sentiment alone).
    listener: Listener | None = None


@dataclass(slots=True)
class Batch:
    """One batch, decoded and folded."""

    now: datetime
    keep_bytes: int
    updates: dict[str, list[ProfileUpdate]] = field(default_factory=lambda: defaultdict(list))
    #: Where each update came from (its record, for a late event's record).
    origin: dict[int, Located] = field(default_factory=dict)
    #: Each update's id as the id index stores it (``storage.layout.event_key``): its
    #: event id, or a return's return id (``profiles.fold``).
    keys: dict[int, str] = field(default_factory=dict)
    items: list[ItemUpdate] = field(default_factory=list)
    #: Device token -> readings of that device that name no customer.
    unowned: dict[str, list[Located]] = field(default_factory=lambda: defaultdict(list))
    #: Due time (ms) of each of ``unowned`` taken from the park, by event id hash.
    due_of: dict[str, int] = field(default_factory=dict)
    #: What the pass parks and takes from the park (``streaming.parking``).
    parking: Parking = field(default_factory=lambda: Parking({}, {}, {}))
    dead: list[DeadLetter] = field(default_factory=list)
    counters: Counts = field(default_factory=Counter)
    listener: Listener | None = None

    def reject(
        self, record: RecordLike, reason: RejectReason, detail: str, index: int | None
    ) -> None:
        """Dead-letter (part of) a record, and count it."""
        self.counters[Labelled("dead_letters", reason.value)] += 1
        self.dead.append(self.letter(record, index, reason, detail))

    def letter(
        self, record: RecordLike, index: int | None, reason: RejectReason, detail: str
    ) -> DeadLetter:
        """The dead letter of (part of) ``record`` (the caller keeps and counts it)."""
        return DeadLetter.of(
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

    def late(
        self, located: Located, customer_id: str, newest_ms: int, lateness_ms: int
    ) -> LateEvent:
        """The late topic's record of ``located``'s event (the caller keeps and counts it)."""
        record = located.record
        return LateEvent(
            customer_id=customer_id,
            stream=located.stream,
            event=event_dict(located.event),
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            index=located.position,
            newest_event_time=from_ms(newest_ms),
            allowed_lateness_ms=lateness_ms,
            routed_at=self.now,
        )

    def add(
        self, located: Located, customer_id: str, config: FoldConfig, linked: str | None = None
    ) -> None:
        """Fold ``located``'s event into ``customer_id``'s updates (``linked``: the
        anonymous profile the event links to the customer). A remark is scored first."""
        event, listener = located.event, self.listener
        polarity = None
        if listener is not None and isinstance(event, Remark):
            polarity = listener.polarity(event, self.counters)
        update = fold(event, customer_id, config, located.ms, polarity)
        if linked is not None:
            update = update._replace(linked=linked)
        self.updates[customer_id].append(update)
        self.origin[id(update)] = located
        self.keys[id(update)] = event_key(update.event_id)  # a return's: its return id's

    def ask(self, customer_id: str, first: bool) -> Ask:
        """What to read of a customer; on the first attempt also the readings parked for
        the devices the batch links to them (claimed once: taken in the commit)."""
        updates = self.updates[customer_id]
        return Ask(
            customer_id,
            [self.keys[id(u)] for u in updates],
            [u.engaged_with for u in updates if u.engaged_with],
            [self.keys[id(u)] for u in updates if u.lifelong],
            [u.linked for u in updates if u.linked],
            [t for u in updates for t in u.device_tokens] if first else [],
        )

    def relink(self, links: Mapping[str, str]) -> None:
        """Move the updates of anonymous profiles found linked to their customers."""
        for anonymous, customer in links.items():
            self.updates[customer].extend(self.updates.pop(anonymous, ()))


#: The oldest event time history may have (the decoder's age limit, for backfill).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def decode_batches(
    records: Sequence[RecordLike], config: BatchConfig, now: datetime
) -> list[tuple[Batch, bool]]:
    """``records`` decoded as (batch, is backfill): those marked as history by their
    header (``events.backfill``; a record type without headers, a test's, is live)
    first, then the live ones (always one batch)."""
    live: list[RecordLike] = []
    history: list[RecordLike] = []
    for record in records:
        (history if is_backfill(getattr(record, "headers", None)) else live).append(record)
    batches = [(decode_batch(history, config, now, backfill=True), True)] if history else []
    if live or not history:
        batches.append((decode_batch(live, config, now), False))
    return batches


def decode_batch(
    records: Sequence[RecordLike], config: BatchConfig, now: datetime, *, backfill: bool = False
) -> Batch:
    """Decode and fold ``records``. Readings of devices linked by traits earlier in the
    same batch go to that customer; other device-only readings wait in ``unowned``.
    ``backfill``: the records are history, so the age limit does not apply (counted
    as ``events_backfilled``)."""
    batch = Batch(now, config.dlq_keep_bytes, listener=config.listener)
    limits = replace(config.limits, max_event_age=now - _EPOCH) if backfill else config.limits
    decoder = Decoder(limits, now)
    streams = config.streams
    types: Counter[tuple[str, str]] = Counter()
    sensed: list[Located] = []
    for record in records:
        stream = streams[record.topic]
        name = stream.value
        decoded = decoder.decode(stream, record.value or b"")
        for rejection in decoded.rejections:
            batch.reject(record, rejection.reason, rejection.detail, rejection.index)
        for index, event, ms in decoded.located:
            types[(name, event.type)] += 1
            customer_id = event.customer_id
            anonymous = getattr(event, "anonymous_id", None)
            if anonymous is not None:
                _visitor(batch, Located(record, index, event, ms, stream), anonymous, config.fold)
            elif customer_id is not None:
                batch.add(Located(record, index, event, ms, stream), customer_id, config.fold)
            elif isinstance(event, ItemUpdate):
                batch.items.append(event)
            else:  # a sensor reading naming only its device
                sensed.append(Located(record, index, event, ms, stream))
    _count(batch.counters, len(records), types)
    if backfill:
        add(batch.counters, "events_backfilled", sum(types.values()))
    _own_in_batch(batch, sensed, config.fold)
    return batch


def _visitor(batch: Batch, located: Located, anonymous_id: str, config: FoldConfig) -> None:
    """An event naming an anonymous id: its customer's, linking the anonymous profile to
    them, or the anonymous profile's (the read follows a link made meanwhile)."""
    profile = anonymous_profile_id(config.pseudonym_secret, anonymous_id)
    customer_id = located.event.customer_id
    if customer_id is None:
        batch.add(located, profile, config)
    else:
        batch.add(located, customer_id, config, linked=profile)


def _count(counters: Counts, records: int, types: Counter[tuple[str, str]]) -> None:
    counters[Plain("records_in")] += records
    for (stream, kind), n in types.items():
        counters[EventsIn(stream, kind)] += n


def _own_in_batch(batch: Batch, sensed: Sequence[Located], config: FoldConfig) -> None:
    """Readings of devices that traits in this batch link go to that customer; the others
    wait for the device links in Redis (``streaming.parking.own``)."""
    linked = {
        token: cid
        for cid, updates in batch.updates.items()
        for u in updates
        for token in u.device_tokens
    }
    for located in sensed:
        reading = located.event
        assert isinstance(reading, SensorEvent)
        token = pseudonymize(config.pseudonym_secret, "device", reading.device_id or "")
        if token in linked:
            batch.add(located, linked[token], config)
        else:
            batch.unowned[token].append(located)
