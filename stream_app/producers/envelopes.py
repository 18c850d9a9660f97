"""The one envelope packer: encoded events grouped per topic and key into records.

An envelope (``{"events": [...]}``) carries several events of one key (one
customer, or one anonymous visitor) in one Kafka record, amortizing the per-record
cost of Kafka and the worker. Members are kept as bytes, so a recorded log line goes
out exactly as recorded and the packer never encodes anything twice. Pure: the caller says what
time it is and sends what comes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Envelopes stay under Kafka's default 1 MB ``message.max.bytes`` with batch overhead.
ENVELOPE_MAX_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class PackedRecord:
    """One record to send: its value holds the events whose ids are ``event_ids``."""

    topic: str
    key: bytes
    value: bytes
    event_ids: tuple[str, ...]


@dataclass(slots=True)
class _Open:
    """Members of one (topic, key) waiting to be sent together."""

    started: float
    members: list[bytes] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    size: int = 0


class EnvelopePacker:
    """Groups events per (topic, key), in order, into records of at most ``max_events``
    events and about ``max_bytes`` bytes (a single larger event still gets a record).

    With ``max_events`` 1 every event is its own record, not enveloped:

    >>> packer = EnvelopePacker(max_events=2)
    >>> [r.value for r in packer.add("t", b"c1", b'{"n":1}', "e1", now=0.0)]
    []
    >>> [r.value for r in packer.add("t", b"c1", b'{"n":2}', "e2", now=0.1)]
    [b'{"events":[{"n":1},{"n":2}]}']
    >>> packer.add("t", b"c2", b'{"n":3}', "e3", now=0.2)
    []
    >>> [(r.key, r.event_ids) for r in packer.drain()]
    [(b'c2', ('e3',))]
    >>> [r.value for r in EnvelopePacker(max_events=1).add("t", b"c1", b"{}", "e4", now=0.0)]
    [b'{}']
    """

    def __init__(self, max_events: int, max_bytes: int = ENVELOPE_MAX_BYTES) -> None:
        if max_events < 1 or max_bytes < 1:
            raise ValueError("max_events and max_bytes must be >= 1")
        self._max_events = max_events
        self._max_bytes = max_bytes
        #: Open envelopes per (topic, key), oldest first (a closed key reopens at the end).
        self._open: dict[tuple[str, bytes], _Open] = {}

    def add(
        self, topic: str, key: bytes, member: bytes, event_id: str, *, now: float
    ) -> list[PackedRecord]:
        """Add one encoded event; returns the records it completed (0, 1 or 2)."""
        if self._max_events == 1:
            return [PackedRecord(topic, key, member, (event_id,))]
        done: list[PackedRecord] = []
        envelope = self._open.get((topic, key))
        if envelope is not None and envelope.size + len(member) + 1 > self._max_bytes:
            done.append(self._close(topic, key))
            envelope = None
        if envelope is None:
            envelope = self._open[(topic, key)] = _Open(now)
        envelope.members.append(member)
        envelope.event_ids.append(event_id)
        envelope.size += len(member) + 1
        if len(envelope.members) >= self._max_events:
            done.append(self._close(topic, key))
        return done

    def due(self, cutoff: float) -> list[PackedRecord]:
        """The partial envelopes opened at or before ``cutoff``, oldest first."""
        done: list[PackedRecord] = []
        while self._open:
            topic, key = next(iter(self._open))  # the oldest
            if self._open[(topic, key)].started > cutoff:
                break
            done.append(self._close(topic, key))
        return done

    def drain(self) -> list[PackedRecord]:
        """Every partial envelope, oldest first."""
        return self.due(float("inf"))

    def _close(self, topic: str, key: bytes) -> PackedRecord:
        envelope = self._open.pop((topic, key))
        value = b'{"events":[' + b",".join(envelope.members) + b"]}"
        return PackedRecord(topic, key, value, tuple(envelope.event_ids))
