"""``stream-app`` command line (Typer): one sub-command per job, each a thin adapter."""

from __future__ import annotations

import os

import typer
from redis.exceptions import RedisError

from stream_app.cli.api import api_app, api_key_app
from stream_app.cli.audit import audit
from stream_app.cli.backfill import backfill
from stream_app.cli.capacity import capacity
from stream_app.cli.cutover import cutover
from stream_app.cli.demo import demo
from stream_app.cli.erase import erase
from stream_app.cli.migrate import migrate_app
from stream_app.cli.model import model_app
from stream_app.cli.profile import profile
from stream_app.cli.replay import replay
from stream_app.cli.report import report_app
from stream_app.cli.schemas import schemas_app
from stream_app.cli.simulate import simulate
from stream_app.cli.stack import stack
from stream_app.cli.worker import topics_app, worker
from stream_app.storage.full import refuses_writes

app = typer.Typer(
    name="stream-app",
    help="Real-time precision-marketing engine: events in, profiles in Redis, decisions out.",
    no_args_is_help=True,
    add_completion=False,
)
app.command(help="Start only the embedded Kafka (Tansu) and Redis servers and wait.")(stack)
app.command()(worker)
app.command()(simulate)
app.command()(replay)
app.command()(backfill)
app.command()(cutover)
app.command()(demo)
app.command()(erase)
app.command()(profile)
app.command()(capacity)
app.command()(audit)
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")
app.add_typer(model_app, name="model")
app.add_typer(report_app, name="report")
app.add_typer(api_app, name="api")
app.add_typer(api_key_app, name="api-key")
app.add_typer(migrate_app, name="migrate")


def main() -> None:
    """Console-script entry point. A command whose writes a full Redis refuses (erase,
    api-key create, ...) ends with a message and ``EX_TEMPFAIL`` (try again later), not
    a traceback."""
    try:
        app()
    except RedisError as exc:
        if not refuses_writes(exc):
            raise
        typer.echo(
            "Redis is full (maxmemory reached): writes are refused until memory is freed; "
            'run the command again then (README, "When Redis is full").',
            err=True,
        )
        raise SystemExit(os.EX_TEMPFAIL) from None
