"""``stream-app report funnel`` and ``report cohorts``: the AARRR funnel and the
retention triangle per acquisition cohort, from the live counters (docs/reports.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer

from stream_app.decisions.funnel import CohortRow, rows
from stream_app.decisions.funnel_report import render_cohorts, render_funnel, to_csv, total
from stream_app.settings import Settings
from stream_app.storage.configured import keys_of
from stream_app.storage.connection import redis_client
from stream_app.storage.funnel import FunnelStore

BY_SOURCE = typer.Option(False, "--by-source", help="One line per first-touch source too.")
CSV = typer.Option(False, "--csv", help="CSV (counts) instead of a table.")
PNG = typer.Option(None, "--png", help="Also draw the report into this PNG file.")


def funnel(by_source: bool = BY_SOURCE, csv: bool = CSV, png: Path | None = PNG) -> None:
    """Customers per acquisition cohort reaching each stage: acquisition, activation,
    retention, revenue, referral (definitions: the funnel settings)."""
    settings = Settings()
    found = asyncio.run(read_rows(settings, by_source))
    periods = settings.funnel.retention_periods
    if png is not None:
        draw_funnel([total(found, periods), *found], png)
    typer.echo(to_csv(found, periods) if csv else render_funnel(found) or "no customers yet")


def cohorts(by_source: bool = BY_SOURCE, csv: bool = CSV, png: Path | None = PNG) -> None:
    """The share of each acquisition cohort active again k periods later."""
    settings = Settings()
    found = asyncio.run(read_rows(settings, by_source))
    periods = settings.funnel.retention_periods
    if png is not None:
        draw_cohorts(found, png)
    typer.echo(to_csv(found, periods) if csv else render_cohorts(found, periods))


async def read_rows(settings: Settings, by_source: bool = False) -> list[CohortRow]:
    """The report's rows from the counters in Redis."""
    redis = redis_client(settings)
    try:
        store = FunnelStore(redis, keys_of(settings), settings.funnel.period)
        counts = await store.read()
    finally:
        await redis.aclose()
    return rows(counts, settings.funnel.retention_periods, by_source)


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as error:
        raise typer.BadParameter(
            "--png needs matplotlib: pip install 'stream_app[reports]'"
        ) from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_funnel(found: list[CohortRow], path: Path) -> None:
    """Bars of the funnel over every cohort (the first row: their total)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    stages = list(found[0].stages)
    ax.bar(stages, [found[0].stages[s] for s in stages], color="#3b7dd8")
    ax.set_ylabel("customers")
    ax.set_title("Funnel, all cohorts")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_cohorts(found: list[CohortRow], path: Path) -> None:
    """The retention heat map: cohorts down, k periods later across, share of the cohort."""
    plt = _pyplot()
    shares = [
        [n / row.stages["acquisition"] if row.stages["acquisition"] else 0.0 for n in row.retained]
        for row in found
    ]
    fig, ax = plt.subplots(figsize=(8, 1 + 0.35 * max(len(found), 1)))
    image = ax.imshow(shares or [[0.0]], aspect="auto", cmap="Blues", vmin=0, vmax=1)
    ax.set_yticks(range(len(found)), [f"{r.cohort} {r.source}" for r in found])
    ax.set_xlabel("periods after the cohort's (k)")
    if found:
        ax.set_xticks(
            range(len(found[0].retained)), [str(k + 1) for k in range(len(found[0].retained))]
        )
    fig.colorbar(image, ax=ax, label="share active again")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
