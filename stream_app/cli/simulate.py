"""``stream-app simulate``: synthetic customer traffic, live to Kafka or into an event log."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Annotated, Literal

import orjson
import typer

from stream_app.clock import utc_now
from stream_app.events.eventlog import write_lines
from stream_app.events.registry import Event
from stream_app.producers.loadgen import Load, SimStats, run_simulation
from stream_app.settings import Settings
from stream_app.simulation.catalog import make_catalog
from stream_app.simulation.generator import EventGenerator
from stream_app.simulation.population import make_population
from stream_app.simulation.retail import RetailMix, make_retail_set


class RetailSwitch(StrEnum):
    """The parts of the messy-retail set that can be left out."""

    RETURNS = "returns"
    GUESTS = "guests"
    DEVICES = "devices"


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
    to_file: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help="write an event log (JSON lines) instead of publishing; no Kafka, no pacing",
        ),
    ] = None,
    events: Annotated[
        int | None,
        typer.Option(min=0, help="with --to-file: events to write [default: rate x duration]"),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="with --to-file: ISO time of the first event, with offset "
            "[default: the log ends about now]"
        ),
    ] = None,
    event_set: Annotated[
        Literal["plain", "retail"],
        typer.Option(
            "--set",
            help="with --to-file: retail = messy retail over --span-days (B2B invoices, odd "
            "item ids, currencies, week-old redeliveries) and its truth in <file>.truth.json",
        ),
    ] = "plain",
    left_out: Annotated[
        list[RetailSwitch] | None,
        typer.Option("--without", help="with --set retail: leave this part out [default: all in]"),
    ] = None,
    span_days: Annotated[
        float, typer.Option(min=0.01, help="with --set retail: days of event time")
    ] = 6.0,
) -> None:
    """Simulate shoppers: clickstream, purchases, sensors, identity, feedback."""
    if to_file is None:
        if events is not None or start is not None or event_set != "plain":
            raise typer.BadParameter("--events, --start and --set need --to-file")
        _live(customers, rate, duration, seed, envelope_size, respond)
        return
    count = math.floor(rate * duration) if events is None else events
    if event_set == "retail":
        _write_retail(to_file, customers, count, seed, start, span_days, left_out or [])
        return
    first = utc_now() - timedelta(seconds=count / rate) if start is None else _aware(start)
    mix = _write_log(to_file, customers, rate, seed, count, first)
    end = first + timedelta(seconds=max(count - 1, 0) / rate)
    summary = ", ".join(f"{stream}={n}" for stream, n in sorted(mix.items()))
    typer.echo(
        f"wrote {count} events to {to_file} ({summary}); "
        f"event times {first.isoformat()} .. {end.isoformat()}"
    )


def _write_log(
    path: Path, customers: int, rate: float, seed: int, count: int, start: datetime
) -> Counter[str]:
    """Event ``i`` happens at ``start + i / rate``, as live; no feedback (nothing decides)."""
    generator = EventGenerator(
        make_population(customers, seed), make_catalog(seed), seed, start, rate
    )
    mix: Counter[str] = Counter()

    def counted() -> Iterator[Event]:
        for stream, event in islice(generator, count):
            mix[stream.value] += 1
            yield event

    with path.open("wb") as out:
        out.writelines(write_lines(counted()))
    return mix


def _write_retail(
    path: Path,
    customers: int,
    count: int,
    seed: int,
    start: str | None,
    span_days: float,
    left_out: list[RetailSwitch],
) -> None:
    """The messy-retail set in arrival order, and its truth beside it."""
    span = timedelta(days=span_days)
    end = utc_now() - timedelta(minutes=1) if start is None else _aware(start) + span
    mix = RetailMix(
        returns=RetailSwitch.RETURNS not in left_out,
        guests=RetailSwitch.GUESTS not in left_out,
        devices=RetailSwitch.DEVICES not in left_out,
    )
    made = make_retail_set(customers, count, seed, end, span, mix)
    with path.open("wb") as out:
        out.writelines(write_lines(a.event for a in made.arrivals))
    truth = path.with_name(path.name + ".truth.json")
    truth.write_bytes(orjson.dumps(made.truth.as_json(), option=orjson.OPT_INDENT_2))
    summary = ", ".join(f"{name}={n}" for name, n in sorted(made.counts.items()))
    typer.echo(f"wrote {len(made.arrivals)} events to {path} ({summary}); truth in {truth}")


def _aware(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {exc}", param_hint="--start") from exc
    if moment.utcoffset() is None:
        raise typer.BadParameter(
            "give a UTC offset, e.g. 2026-01-01T00:00:00Z", param_hint="--start"
        )
    return moment


def _live(
    customers: int, rate: float, duration: float, seed: int, envelope_size: int, respond: bool
) -> None:
    settings = Settings()
    typer.echo(
        f"simulating {customers} customers at {rate:g} events/s for {duration:g}s "
        f"-> {settings.kafka.bootstrap}"
    )
    load = Load(customers, rate, duration, seed, envelope_size)
    stats = asyncio.run(
        run_simulation(settings, load, respond_to_decisions=respond, on_progress=_progress)
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
