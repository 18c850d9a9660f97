"""Replay of event logs: publishes a recorded JSON-lines log onto the engine's topics.

Each valid line goes to its stream's topic as it was recorded (the original
bytes, keyed by ``record_key``), alone or in per-customer envelopes, through
``EventProducer``; invalid lines are counted and reported, never sent. By
default as fast as the broker takes it; with ``speedup`` paced by the recorded
event times. A load can start at a saved ``Position`` and reports its own as it goes
(``producers.position``: only past lines the broker acknowledged).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from stream_app.events.backfill import BACKFILL_HEADERS
from stream_app.events.eventlog import LineError
from stream_app.events.registry import Stream
from stream_app.kafka_topics import ensure_topics
from stream_app.producers.position import FILE_START, Position, Watermark
from stream_app.producers.producer import EventProducer, InvalidEvent, check
from stream_app.settings import Settings

#: The file is read in blocks of this size, off the event loop.
READ_BLOCK_BYTES = 1 << 20
#: Invalid lines kept with their details; later ones are only counted.
MAX_REPORTED_INVALID = 20
#: Lines between two progress checks.
CHECK_EVERY_LINES = 512
PROGRESS_EVERY_S = 1.0
#: While pacing, the longest sleep between two progress checks.
IDLE_TICK_S = 0.05


@dataclass(frozen=True, slots=True)
class InvalidLine:
    """A line that was not sent; ``number`` counts from 1, like editors do."""

    number: int
    error: LineError


@dataclass(slots=True)
class ReplayStats:
    """What a replay did; ``*_sent`` count what the broker acknowledged."""

    #: Lines read by this run (``InvalidLine.number`` counts from the file's start).
    lines: int = 0
    events_sent: int = 0
    records_sent: int = 0
    invalid: int = 0
    #: The first ``MAX_REPORTED_INVALID`` invalid lines; ``invalid`` counts them all.
    invalid_lines: list[InvalidLine] = field(default_factory=list)
    #: Valid events read, per stream.
    by_stream: Counter[Stream] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    #: Where reading got to in the file (bytes from its start).
    offset: int = 0
    #: Up to where every line was acknowledged (or invalid): where to resume.
    position: Position = FILE_START


async def replay_file(
    settings: Settings,
    path: Path,
    *,
    speedup: float | None = None,
    envelope_size: int = 1,
    backfill: bool = False,
    on_progress: Callable[[ReplayStats], None] | None = None,
    start: Position = FILE_START,
    on_position: Callable[[Position], None] | None = None,
) -> ReplayStats:
    """Publish the event log at ``path``; returns once the broker acknowledged every record.

    ``speedup`` X sends each event X times faster than recorded (1 = real
    time), measured from the first valid event; ``None`` sends at full speed.
    With ``envelope_size`` > 1, successive events of one key on one topic are
    grouped, in log order, into envelopes (see ``EventProducer``). With
    ``backfill`` every record carries the backfill header: the worker loads the
    events as history, in event time, and messages nobody. Missing
    topics are created first, with the configured partitions, as the worker
    would. ``on_progress`` is called about once a second. Reading starts at
    ``start`` (a line start); ``on_position`` is told the position about once a
    second and when the run ends, however it ends (cancelled, or a record refused).
    """
    if speedup is not None and speedup <= 0:
        raise ValueError("speedup must be > 0")
    mark = Watermark(start)
    producer = EventProducer(
        settings,
        envelope_size=envelope_size,
        client_id="stream-app-replay",
        headers=BACKFILL_HEADERS if backfill else (),
        on_acknowledged=mark.acknowledged,
    )
    await ensure_topics(settings)
    replay = _Replay(producer, mark, on_progress, on_position)
    try:
        async with producer:
            return await replay.run(path, start, speedup)
    finally:
        replay.report_position()


class _Replay:
    """One pass over a log: parse, pace and send."""

    def __init__(
        self,
        producer: EventProducer,
        mark: Watermark,
        on_progress: Callable[[ReplayStats], None] | None,
        on_position: Callable[[Position], None] | None,
    ) -> None:
        self._producer = producer
        self._mark = mark
        self._on_progress = on_progress
        self._on_position = on_position
        self._stats = ReplayStats(position=mark.position)
        #: The first valid event's time and the monotonic time it was read at.
        self._origin: tuple[datetime, float] | None = None
        self._t0 = time.monotonic()
        self._next_progress = PROGRESS_EVERY_S

    async def run(self, path: Path, start: Position, speedup: float | None) -> ReplayStats:
        stats, mark = self._stats, self._mark
        number, stats.offset = start.line, start.offset
        async with aclosing(_read_lines(path, start.offset)) as blocks:
            async for lines, eol in blocks:
                for line in lines:
                    number += 1
                    stats.offset += len(line) + eol
                    try:
                        checked = check(line)
                    except InvalidEvent as invalid:
                        mark.read(end=stats.offset, event_id=None)
                        stats.invalid += 1
                        if len(stats.invalid_lines) < MAX_REPORTED_INVALID:
                            stats.invalid_lines.append(InvalidLine(number, invalid.error))
                        continue
                    mark.read(end=stats.offset, event_id=checked.event.event_id)
                    stats.by_stream[checked.stream] += 1
                    if speedup is not None:
                        await self._pace(checked.event.event_time, speedup)
                    await self._producer.send_checked(checked)
                    if number % CHECK_EVERY_LINES == 0:
                        self._progress()
                stats.lines = number - start.line
        await self._producer.flush()
        self._progress()
        return stats

    def report_position(self) -> None:
        self._stats.position = self._mark.position
        if self._on_position is not None:
            self._on_position(self._mark.position)

    async def _pace(self, event_time: datetime, speedup: float) -> None:
        """Wait until ``event_time`` is due (what was read so far goes out meanwhile)."""
        if self._origin is None:
            self._origin = (event_time, time.monotonic())
        first_time, first_read = self._origin
        due = first_read + (event_time - first_time).total_seconds() / speedup
        while (wait := due - time.monotonic()) > 0:
            self._progress()
            await asyncio.sleep(min(wait, IDLE_TICK_S))

    def _progress(self) -> None:
        stats = self._stats
        stats.events_sent = self._producer.stats.events_sent
        stats.records_sent = self._producer.stats.records_sent
        stats.elapsed_s = time.monotonic() - self._t0
        if stats.elapsed_s >= self._next_progress:
            self.report_position()
            if self._on_progress is not None:
                self._on_progress(stats)
            self._next_progress = stats.elapsed_s + PROGRESS_EVERY_S


async def _read_lines(path: Path, start: int) -> AsyncGenerator[tuple[list[bytes], int], None]:
    """The file's lines from byte ``start`` on, without line ends, a block at a time, read
    off the event loop; each block with the length of its lines' ends (0: the last
    line has none)."""
    file = await asyncio.to_thread(lambda: path.open("rb"))
    try:
        file.seek(start)
        tail = b""
        while block := await asyncio.to_thread(file.read, READ_BLOCK_BYTES):
            lines = (tail + block).split(b"\n")
            tail = lines.pop()
            yield lines, 1
        if tail:
            yield [tail], 0
    finally:
        file.close()
