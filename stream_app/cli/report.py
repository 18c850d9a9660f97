"""``stream-app report lift``: per campaign, treated vs holdout conversion and the lift."""

from __future__ import annotations

import asyncio

import orjson
import typer

from stream_app.cli.report_funnel import cohorts, funnel
from stream_app.decisions.lift import CampaignLift, render
from stream_app.settings import Settings
from stream_app.storage.configured import keys_of
from stream_app.storage.connection import redis_client
from stream_app.storage.decisions import DecisionStore

report_app = typer.Typer(help="Reports for analysts.", no_args_is_help=True)
report_app.command("funnel")(funnel)
report_app.command("cohorts")(cohorts)


@report_app.command("lift")
def lift(
    json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
    rebuild: bool = typer.Option(
        False,
        "--rebuild",
        help="Recount every campaign's counts from its decisions first (once, after a "
        "rolling upgrade from a version without counts; otherwise never needed).",
    ),
) -> None:
    """Conversion of treated vs holdout customers per campaign, overall and stratified by
    tier (a pooled figure that disagrees with the stratified one is flagged)."""
    lifts = asyncio.run(read_lift(Settings(), rebuild))
    if json:
        typer.echo(orjson.dumps([x.as_dict() for x in lifts], option=orjson.OPT_INDENT_2))
    elif not lifts:
        typer.echo("no decisions sent or held out yet")
    else:
        typer.echo(render(lifts))


async def read_lift(settings: Settings, rebuild: bool = False) -> list[CampaignLift]:
    """Every campaign's lift from the counts in Redis (recounted first with ``rebuild``)."""
    redis = redis_client(settings)
    try:
        return await DecisionStore(redis, keys_of(settings)).lifts(rebuild)
    finally:
        await redis.aclose()
