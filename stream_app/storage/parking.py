"""Readings of unlinked devices, parked in Redis until the link arrives or the grace ends.

A sensor reading that names only a device nobody linked yet may be a few seconds
ahead of the identify event that links it (another topic). It waits in a hash per
device token (``Keys.parked``), one field per event id hash, written with the
batch's other writes (so before its offsets are committed, and kept across
restarts) and scheduled as a ``park`` check at its due time. The traits that link the
device read and apply them in their own pass; the check dead-letters what is left.
Parked readings hold the device's token, never its raw id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from stream_app.storage.client import RedisClient
from stream_app.storage.commit import Writes
from stream_app.storage.layout import Check, Keys, check_member
from stream_app.storage.schedule import ScheduleStore

#: How long a parked hash outlives its latest due time (a timer that was down that long
#: has lost nothing but these readings).
_KEEP_S = 86_400


@dataclass(frozen=True, slots=True)
class Parked:
    """A reading waiting for its device's link: its event as JSON (``device_id`` is the
    device's token), its stream, where it was consumed (for its dead letter) and its due
    time (ms) after which it is dead-lettered.

    >>> p = Parked("3697500921364486749", "sensor", {"type": "ambient"}, "t", 0, 7, None, 9)
    >>> Parked.of(p.key, p.to_json()) == p
    True
    """

    key: str
    stream: str
    event: dict[str, Any]
    topic: str
    partition: int
    offset: int
    index: int | None
    due_ms: int

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "s": self.stream,
                "e": self.event,
                "at": [self.topic, self.partition, self.offset, self.index],
                "due": self.due_ms,
            }
        )

    @classmethod
    def of(cls, key: str, blob: bytes) -> Parked:
        """The reading stored under ``key`` as ``blob``."""
        doc = orjson.loads(blob)
        topic, partition, offset, index = doc["at"]
        return cls(key, doc["s"], doc["e"], topic, partition, offset, index, doc["due"])


@dataclass(slots=True)
class Parking:
    """What a pass does to the parked readings: park new ones (token -> readings), take
    expired or already applied ones (token -> event id hashes), move others to their
    owner (token -> (customer, hashes): taken once the customer's commit is written, a
    Redis Cluster's other slot), re-arm a device's check."""

    park: dict[str, list[Parked]]
    take: dict[str, list[str]]
    rearm: dict[str, int]
    moved: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    def earliest(self) -> int | None:
        """The earliest due time this pass arms."""
        dues = [p.due_ms for ps in self.park.values() for p in ps]
        return min([*dues, *self.rearm.values()], default=None)


class ParkingStore:
    def __init__(self, client: RedisClient, keys: Keys, schedule: ScheduleStore) -> None:
        self._client = client
        self._keys = keys
        self._schedule = schedule

    def write(self, writes: Writes, parking: Parking) -> None:
        """Park, take and re-arm. A reading redelivered while parked keeps its first due
        time (``HSETNX``); the check of a device falls due with its earliest reading."""
        keys = self._keys
        for token, readings in parking.park.items():
            parked = keys.parked(token)
            for reading in readings:
                writes.add("HSETNX", parked, reading.key, reading.to_json())
            latest = max(r.due_ms for r in readings)
            writes.add("PEXPIREAT", parked, latest + _KEEP_S * 1000)
        for token, taken in parking.take.items():
            if taken:
                writes.add("HDEL", keys.parked(token), *taken)
        for token, (owner, taken) in parking.moved.items():
            writes.then(keys.profile(owner), "HDEL", keys.parked(token), *taken)
        checks = {
            check_member(Check("park", token)): min(r.due_ms for r in readings)
            for token, readings in parking.park.items()
        }
        self._schedule.arm(writes, checks, "LT")
        rearm = {check_member(Check("park", t)): ms for t, ms in parking.rearm.items()}
        self._schedule.arm(writes, rearm, "LT")

    async def read(self, tokens: Sequence[str]) -> dict[str, list[Parked]]:
        """The readings parked for each of ``tokens`` (the expiry check's read)."""
        pipe = self._client.pipeline(transaction=False)
        for token in tokens:
            pipe.hgetall(self._keys.parked(token))
        found: Sequence[Mapping[bytes, bytes]] = await pipe.execute()
        return {
            token: [Parked.of(k.decode(), v) for k, v in sorted(hashed.items())]
            for token, hashed in zip(tokens, found, strict=True)
            if hashed
        }
