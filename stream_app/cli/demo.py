"""``stream-app demo``: the options of the demo (``stream_app.demo`` runs it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stream_app.demo import DEMO_CAMPAIGNS, run_demo
from stream_app.producers.loadgen import Load


def demo(
    duration: float = typer.Option(60.0, help="Seconds of simulated traffic."),
    customers: int = typer.Option(400, help="Simulated customers."),
    rate: float = typer.Option(400.0, help="Events per second."),
    seed: int = typer.Option(7, help="Simulator seed (same seed, same events)."),
    envelope_size: int = typer.Option(1, help="Events per Kafka record (1 = no envelopes)."),
    campaigns: Annotated[Path, typer.Option(help="Campaigns (time compressed).")] = DEMO_CAMPAIGNS,
) -> None:
    """Run the whole engine on embedded servers for a while, then print a summary."""
    if not run_demo(Load(customers, rate, duration, seed, envelope_size), campaigns):
        raise typer.Exit(1)
