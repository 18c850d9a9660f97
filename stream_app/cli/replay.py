"""``stream-app replay``: publish a recorded event log (JSON lines) to the engine's topics."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from stream_app.producers.replay import ReplayStats, replay_file
from stream_app.settings import Settings


def replay(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="event log: one event per line"
        ),
    ],
    speedup: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            help="pace by recorded event times, X times faster (1 = real time) "
            "[default: as fast as possible]",
        ),
    ] = None,
    envelope_size: Annotated[
        int, typer.Option(min=1, help="events per record (consecutive events of one customer)")
    ] = 1,
    strict: Annotated[bool, typer.Option("--strict", help="exit 1 if any line is invalid")] = False,
    backfill: Annotated[
        bool,
        typer.Option(
            "--backfill",
            help="load as history: applied in event time, whatever its age, and "
            "never messages anyone (no decisions, timers or segment events); "
            "`stream-app backfill` adds envelopes and a resumable position",
        ),
    ] = False,
) -> None:
    """Replay an event log: each valid event to its stream's topic, invalid lines reported."""
    settings = Settings()
    pace = "as fast as possible" if speedup is None else f"at {speedup:g}x recorded time"
    mode = ", as backfill" if backfill else ""
    typer.echo(f"replaying {file} -> {settings.kafka.bootstrap}, {pace}{mode}")
    stats = asyncio.run(
        replay_file(
            settings,
            file,
            speedup=speedup,
            envelope_size=envelope_size,
            backfill=backfill,
            on_progress=_progress,
        )
    )
    report(stats, strict=strict)


def report(stats: ReplayStats, *, strict: bool) -> None:
    """The invalid lines and the totals of a replay or backfill; with ``strict``, exit 1
    if any line was invalid."""
    for invalid in stats.invalid_lines:
        typer.echo(
            f"line {invalid.number}: {invalid.error.reason}: {invalid.error.detail}", err=True
        )
    if stats.invalid > len(stats.invalid_lines):
        typer.echo(
            f"... and {stats.invalid - len(stats.invalid_lines)} more invalid lines", err=True
        )
    mix = ", ".join(f"{stream}={count}" for stream, count in sorted(stats.by_stream.items()))
    rate = stats.events_sent / stats.elapsed_s if stats.elapsed_s else 0.0
    typer.echo(
        f"done: {stats.events_sent} events in {stats.records_sent} records over "
        f"{stats.elapsed_s:.1f}s ({rate:.0f} events/s; {mix}); "
        f"{stats.lines} lines, {stats.invalid} invalid"
    )
    if strict and stats.invalid:
        typer.echo(f"--strict: {stats.invalid} invalid lines", err=True)
        raise typer.Exit(1)


def _progress(stats: ReplayStats) -> None:
    rate = stats.events_sent / stats.elapsed_s if stats.elapsed_s else 0.0
    typer.echo(
        f"t={stats.elapsed_s:5.1f}s sent={stats.events_sent} ({rate:.0f} events/s) "
        f"invalid={stats.invalid}"
    )
