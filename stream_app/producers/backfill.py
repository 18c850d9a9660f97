"""Loading a shop's history: a replay marked as backfill, in envelopes, resumable.

What ``stream-app backfill`` runs: ``replay_file`` with the backfill header on every
record (``events.backfill``), envelopes on, no pacing, and the position saved
durably about once a second and when the load ends, however it ends.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from stream_app.producers import position as positions
from stream_app.producers.position import FILE_START, Position
from stream_app.producers.replay import ReplayStats, replay_file
from stream_app.settings import Settings

#: Events per record unless told: a history's customers interleave, so envelopes fill
#: only as far as a customer's events come close together (``ENVELOPE_MAX_WAIT_S``);
#: 50 leaves room for bursts while a record stays far under the worker's limits
#: (``max_events_per_record``, ``max_record_bytes``, which the packer keeps to).
BACKFILL_ENVELOPE_SIZE = 50


def envelope_size(settings: Settings, wanted: int | None) -> int:
    """``wanted``, or the default the worker accepts."""
    if wanted is not None:
        return wanted
    return min(BACKFILL_ENVELOPE_SIZE, settings.worker.max_events_per_record)


def start_of(log: Path, position_file: Path, *, resume: bool) -> Position:
    """Where the load starts: the saved position if resuming and there is one, else
    the file's start (``BadPosition`` if the saved one does not fit the log)."""
    if resume and position_file.exists():
        return positions.load(position_file, log)
    return FILE_START


async def backfill_file(
    settings: Settings,
    log: Path,
    position_file: Path,
    *,
    start: Position = FILE_START,
    envelope_size: int = BACKFILL_ENVELOPE_SIZE,
    on_progress: Callable[[ReplayStats], None] | None = None,
) -> ReplayStats:
    """Send the history in ``log`` from ``start`` on as backfill, saving the position
    in ``position_file`` as the broker acknowledges it."""
    saved = start

    def save(position: Position) -> None:
        nonlocal saved
        if position != saved:
            positions.save(position_file, position, log)
            saved = position

    positions.save(position_file, start, log)
    return await replay_file(
        settings,
        log,
        envelope_size=envelope_size,
        backfill=True,
        on_progress=on_progress,
        start=start,
        on_position=save,
    )
