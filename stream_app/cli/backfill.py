"""``stream-app backfill``: load a shop's history (a JSON-lines event log) as backfill,
with a progress bar and a position to resume from."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Annotated

import typer

from stream_app.cli.replay import report
from stream_app.producers import position as positions
from stream_app.producers.backfill import backfill_file, envelope_size, start_of
from stream_app.producers.position import BadPosition, Position, default_path
from stream_app.producers.replay import ReplayStats
from stream_app.settings import Settings

#: Without a terminal (CI logs), a plain progress line this often.
PLAIN_EVERY_S = 10.0


def backfill(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="event log: one event per line"
        ),
    ],
    envelope: Annotated[
        int | None,
        typer.Option(
            "--envelope-size",
            min=1,
            help="events per record (consecutive events of one customer) "
            "[default: 50, or the worker's max_events_per_record if lower]",
        ),
    ] = None,
    position: Annotated[
        Path | None,
        typer.Option(help="position file [default: FILE.backfill-position]", dir_okay=False),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="start after the position saved by an earlier run")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="exit 1 if any line is invalid")] = False,
) -> None:
    """Load history: every event applied in event time whatever its age, nobody messaged.

    The position (the last line the broker acknowledged, every line before it too) is
    saved about once a second and when the run ends, Ctrl-C and SIGTERM included;
    --resume continues from it.
    """
    settings = Settings()
    position_file = position or default_path(file)
    try:
        start = start_of(file, position_file, resume=resume)
    except BadPosition as exc:
        raise typer.BadParameter(str(exc), param_hint="--position") from exc
    size = envelope_size(settings, envelope)
    typer.echo(
        f"backfilling {file} -> {settings.kafka.bootstrap} from line {start.line + 1}, "
        f"envelopes of up to {size} events; position in {position_file}"
    )
    progress = _Progress(start, file.stat().st_size)
    try:
        with progress:
            stats = asyncio.run(_run(settings, file, position_file, start, size, progress.update))
            progress.update(stats)
    except (KeyboardInterrupt, asyncio.CancelledError):
        saved = positions.decode(position_file.read_bytes())
        typer.echo(f"interrupted: position saved ({_where(saved)}); continue with --resume")
        raise typer.Exit(130) from None
    report(stats, strict=strict)
    typer.echo(f"position: {_where(stats.position)}, in {position_file}")


async def _run(
    settings: Settings,
    file: Path,
    position_file: Path,
    start: Position,
    size: int,
    on_progress: Callable[[ReplayStats], None],
) -> ReplayStats:
    """The load, cancelled by SIGTERM as by Ctrl-C (the position is saved either way)."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await backfill_file(
        settings, file, position_file, start=start, envelope_size=size, on_progress=on_progress
    )


def _where(position: Position) -> str:
    return f"line {position.line}, byte {position.offset}"


class _Progress:
    """A bar over the file's bytes on a terminal, with the events sent and their rate;
    elsewhere (CI logs) a plain line every ``PLAIN_EVERY_S``."""

    def __init__(self, start: Position, size: int) -> None:
        self._size = size
        self._shown = start.offset
        self._bar = (
            typer.progressbar(
                length=max(size - start.offset, 1),
                label="backfill",
                item_show_func=lambda text: text,
            )
            if sys.stdout.isatty()
            else None
        )
        self._next_line = PLAIN_EVERY_S

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)

    def update(self, stats: ReplayStats) -> None:
        rate = stats.events_sent / stats.elapsed_s if stats.elapsed_s else 0.0
        text = f"{stats.events_sent:,} events sent ({rate:,.0f}/s)"
        if self._bar is not None:
            self._bar.current_item = text
            self._bar.update(stats.offset - self._shown)
            self._shown = stats.offset
        elif stats.elapsed_s >= self._next_line:
            read = 100 * stats.offset / self._size if self._size else 100.0
            typer.echo(
                f"t={stats.elapsed_s:.0f}s {text}, {read:.1f}% of the file read, "
                f"acknowledged up to line {stats.position.line}"
            )
            self._next_line = stats.elapsed_s + PLAIN_EVERY_S
