"""``stream-app simulate``: publish realistic synthetic customer traffic to Kafka."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from stream_app.settings import Settings
from stream_app.streaming.loadgen import SimStats, run_simulation


def simulate(
    customers: Annotated[int, typer.Option(min=1, help="size of the population")] = 200,
    rate: Annotated[float, typer.Option(min=0.001, help="events per second")] = 200.0,
    duration: Annotated[float, typer.Option(min=0.0, help="seconds to run")] = 60.0,
    seed: Annotated[int, typer.Option(help="same seed, same customers and events")] = 42,
    envelope_size: Annotated[
        int, typer.Option(min=1, help="events per record (one customer per envelope)")
    ] = 1,
    respond: Annotated[
        bool, typer.Option("--respond/--no-respond", help="answer decisions with feedback")
    ] = True,
) -> None:
    """Simulate shoppers in real time: clickstream, purchases, sensors, identity, feedback."""
    settings = Settings()
    typer.echo(
        f"simulating {customers} customers at {rate:g} events/s for {duration:g}s "
        f"-> {settings.kafka_bootstrap}"
    )
    stats = asyncio.run(
        run_simulation(
            settings,
            customers=customers,
            rate=rate,
            duration=duration,
            seed=seed,
            envelope_size=envelope_size,
            respond_to_decisions=respond,
            on_progress=_progress,
        )
    )
    mix = ", ".join(f"{stream}={count}" for stream, count in sorted(stats.by_stream.items()))
    typer.echo(
        f"done: {stats.events_sent} events in {stats.records_sent} records "
        f"over {stats.elapsed_s:.1f}s ({mix}); "
        f"{stats.decisions_seen} decisions seen, {stats.feedback_sent} feedback events sent"
    )


def _progress(stats: SimStats) -> None:
    rate = stats.events_sent / stats.elapsed_s if stats.elapsed_s else 0.0
    typer.echo(
        f"t={stats.elapsed_s:5.1f}s events={stats.events_sent} ({rate:.0f}/s) "
        f"records={stats.records_sent} decisions={stats.decisions_seen} "
        f"feedback={stats.feedback_sent}"
    )
