"""Device-only readings after the pass's read: applied to the device's owner, parked
until the link arrives, or, once their grace is over, dead-lettered as ``unknown_device``.

No I/O here: the pass reads owners, what waits per device and the readings parked for
the devices its traits link in its one read (``storage.customers``), and writes what is
decided here with its other writes (``storage.parking``). Every step is idempotent: a
reading redelivered while parked is not parked again; one taken from the park is in
its customer's id index in the same commit, so it is applied once however it comes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import orjson
from pydantic import TypeAdapter

from stream_app.clock import to_ms
from stream_app.counts import Labelled
from stream_app.events.deadletter import RejectReason
from stream_app.events.encode import event_dict
from stream_app.events.registry import Stream
from stream_app.events.sensor import SensorReading
from stream_app.profiles.fold import FoldConfig
from stream_app.storage.customers import Loaded, Waiting
from stream_app.storage.parking import Parked
from stream_app.streaming.batch import Batch, BatchConfig, Located

_READING: TypeAdapter[SensorReading] = TypeAdapter(SensorReading)


class ParkedRecord(NamedTuple):
    """Where a parked reading was consumed; its value is the reading as parked (the
    device's token in place of its id), what its dead letter keeps."""

    topic: str
    partition: int
    offset: int
    value: bytes


def unparked(parked: Parked) -> Located:
    """A parked reading, as the batch holds events."""
    event = _READING.validate_python(parked.event)
    record = ParkedRecord(parked.topic, parked.partition, parked.offset, orjson.dumps(parked.event))
    return Located(record, parked.index, event, to_ms(event.event_time), Stream(parked.stream))


def parked(located: Located, token: str, due_ms: int) -> Parked:
    """``located``'s reading as it waits: its device named by ``token``, not its id."""
    record = located.record
    event = {**event_dict(located.event), "device_id": token}
    return Parked(
        located.key,
        located.stream.value,
        event,
        record.topic,
        record.partition,
        record.offset,
        located.position,
        due_ms,
    )


def own(
    batch: Batch,
    owners: Mapping[str, str],
    waiting: Mapping[str, Waiting],
    config: BatchConfig,
) -> None:
    """Give device-only readings to their devices' owners; park the others, and
    dead-letter those (taken from the park) whose grace is over."""
    now_ms = to_ms(batch.now)
    for token, readings in batch.unowned.items():
        owner = owners.get(token)
        if owner is not None:
            for located in readings:
                batch.add(located, owner, config.fold)
            _take(batch, token, readings, "applied_after_wait", owner)
            continue
        waited = [r for r in readings if r.key in batch.due_of]
        expired = [r for r in waited if batch.due_of[r.key] <= now_ms]
        for located in expired:
            detail = f"device not linked within {config.device_grace_ms // 1000} s"
            batch.reject(located.record, RejectReason.UNKNOWN_DEVICE, detail, located.position)
        _take(batch, token, expired, "expired")
        left = [batch.due_of[r.key] for r in waited if batch.due_of[r.key] > now_ms]
        if left:
            batch.parking.rearm[token] = min(left)
        fresh = [r for r in readings if r.key not in batch.due_of]
        _park(batch, token, fresh, waiting.get(token), now_ms, config)
    batch.unowned.clear()


def _park(
    batch: Batch,
    token: str,
    readings: Sequence[Located],
    stored: Waiting | None,
    now_ms: int,
    config: BatchConfig,
) -> None:
    """Park new readings of an unlinked device, up to the cap (the rest are dead letters);
    one already parked (redelivered) is left as it is."""
    stored = stored or Waiting(0, frozenset())
    cap, due_ms = config.device_parked_max, now_ms + config.device_grace_ms
    room = cap - stored.total
    done = set(stored.parked)
    for located in readings:
        if located.key in done:
            continue
        done.add(located.key)
        if room <= 0:
            detail = f"device not linked; {cap} readings already wait"
            batch.reject(located.record, RejectReason.UNKNOWN_DEVICE, detail, located.position)
            continue
        room -= 1
        batch.parking.park.setdefault(token, []).append(parked(located, token, due_ms))
        batch.counters[Labelled("device_readings", "parked")] += 1


def _take(
    batch: Batch, token: str, readings: Sequence[Located], outcome: str, owner: str | None = None
) -> None:
    """Readings leave the park (those that were in it), counted by ``outcome``; applied
    to an ``owner``: once the owner's commit is written."""
    taken = [r.key for r in readings if r.key in batch.due_of]
    if taken:
        _leave(batch, token, taken, owner)
        batch.counters[Labelled("device_readings", outcome)] += len(taken)


def _leave(batch: Batch, token: str, taken: Sequence[str], owner: str | None) -> None:
    parking = batch.parking
    if owner is None:
        parking.take.setdefault(token, []).extend(taken)
    else:
        parking.moved.setdefault(token, (owner, []))[1].extend(taken)


def claim_waiting(batch: Batch, loaded: Mapping[str, Loaded], config: FoldConfig) -> None:
    """The readings parked for the devices this batch links go to the linking customer
    (taken from the park in the same commit); one already applied is a duplicate."""
    for cid, found in loaded.items():
        if not found.waiting:
            continue
        have = {batch.keys[id(u)] for u in batch.updates[cid]}
        for token, key, blob in found.waiting:
            _leave(batch, token, [key], None if key in found.applied else cid)
            if key in have:
                continue
            have.add(key)
            batch.add(unparked(Parked.of(key, blob)), cid, config)
            if key not in found.applied:
                batch.counters[Labelled("device_readings", "applied_after_wait")] += 1
