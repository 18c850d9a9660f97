"""``stream-app backfill``: load a shop's history (a JSON-lines event log) as backfill,
with a progress bar and a position to resume from."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Coroutine
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any, TypeVar

import typer

from stream_app.cli.backfill_wait import Applying, wait_applied
from stream_app.cli.replay import report
from stream_app.producers import position as positions
from stream_app.producers.backfill import backfill_file, envelope_size, start_of
from stream_app.producers.position import BadPosition, Position, default_path
from stream_app.producers.producer import DeliveryError
from stream_app.producers.replay import ReplayStats
from stream_app.settings import Settings

T = TypeVar("T")

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
    wait: Annotated[
        bool,
        typer.Option("--wait", help="then wait until the worker has applied what was sent"),
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
    if not resume and position_file.exists():
        typer.echo(f"{position_file} is replaced: starting over (--resume continues instead)")
    typer.echo(
        f"backfilling {file} -> {settings.kafka.bootstrap} from line {start.line + 1}, "
        f"envelopes of up to {size} events; position in {position_file}"
    )
    try:
        stats = _send(settings, file, position_file, start, size)
    except (KeyboardInterrupt, asyncio.CancelledError):
        typer.echo(f"interrupted: {_saved(position_file, start)}; continue with --resume")
        raise typer.Exit(130) from None
    except DeliveryError as exc:
        typer.echo(f"stopped: {exc}; {_saved(position_file, start)}; fix, then --resume", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"position: {_where(stats.position)}, in {position_file}")
    report(stats, strict=strict)
    if wait:
        _wait(settings)


def _send(
    settings: Settings, file: Path, position_file: Path, start: Position, size: int
) -> ReplayStats:
    """The load, with its progress shown over the file's bytes."""
    display = _Display("backfill", file.stat().st_size - start.offset)

    def progress(stats: ReplayStats) -> None:
        rate = stats.events_sent / stats.elapsed_s if stats.elapsed_s else 0.0
        text = f"{stats.events_sent:,} events sent ({rate:,.0f}/s), line {stats.position.line:,}"
        display.show(stats.offset - start.offset, text, stats.elapsed_s)

    with display:
        stats = asyncio.run(_cancelled_by_sigterm(backfill_file(
            settings, file, position_file, start=start, envelope_size=size, on_progress=progress
        )))  # fmt: skip
        progress(stats)
    return stats


def _wait(settings: Settings) -> None:
    """Until the worker has committed every record on its topics as of now."""
    with ExitStack() as shown:
        display: _Display | None = None

        def progress(applying: Applying) -> None:
            nonlocal display
            if display is None:
                display = shown.enter_context(_Display("applied", applying.records))
            left, done = applying.records_left, applying.records - applying.records_left
            text = f"{left:,} records left, events_backfilled={applying.backfilled:,}"
            display.show(done, text, applying.elapsed_s)

        try:
            applying = asyncio.run(_cancelled_by_sigterm(wait_applied(settings, progress)))
        except (KeyboardInterrupt, asyncio.CancelledError):
            typer.echo("stopped waiting (what was sent stays sent)")
            raise typer.Exit(130) from None
    typer.echo(
        f"applied: the worker caught up with {applying.records:,} records in "
        f"{applying.elapsed_s:.1f}s; events_backfilled={applying.backfilled:,}"
    )


async def _cancelled_by_sigterm(work: Coroutine[Any, Any, T]) -> T:
    """``work``, cancelled by SIGTERM as by Ctrl-C (the position is saved either way)."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await work


def _saved(position_file: Path, start: Position) -> str:
    saved = positions.decode(position_file.read_bytes()) if position_file.exists() else start
    return f"position saved ({_where(saved)})"


def _where(position: Position) -> str:
    return f"line {position.line}, byte {position.offset}"


class _Display:
    """A bar on a terminal, with a text beside it; elsewhere (CI logs) a plain line every
    ``PLAIN_EVERY_S``."""

    def __init__(self, label: str, length: int) -> None:
        self._label = label
        self._length = length
        self._done = 0
        self._bar = (
            typer.progressbar(length=max(length, 1), label=label, item_show_func=lambda text: text)
            if sys.stdout.isatty()
            else None
        )
        self._next_line = PLAIN_EVERY_S

    def __enter__(self) -> _Display:
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

    def show(self, done: int, text: str, elapsed_s: float) -> None:
        if self._bar is not None:
            self._bar.current_item = text
            self._bar.update(done - self._done)
            self._done = done
        elif elapsed_s >= self._next_line:
            share = 100 * done / self._length if self._length else 100.0
            typer.echo(f"{self._label}: t={elapsed_s:.0f}s {share:.1f}%: {text}")
            self._next_line = elapsed_s + PLAIN_EVERY_S
