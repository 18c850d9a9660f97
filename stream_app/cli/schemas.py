"""``stream-app schemas write|check``: the JSON Schemas in ``schemas/``."""

from __future__ import annotations

from pathlib import Path

import typer

from stream_app.events.schemas import render, topic_schemas
from stream_app.settings import Settings

schemas_app = typer.Typer(help="JSON Schemas of every topic.", no_args_is_help=True)

DIRECTORY = typer.Option(Path("schemas"), help="Where the schema files live.")


@schemas_app.command("write")
def write(directory: Path = DIRECTORY) -> None:
    """(Re)generate the schema files from the event models."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, schema in topic_schemas(Settings().worker.decode_limits()).items():
        (directory / name).write_bytes(render(schema))
        typer.echo(f"wrote {directory / name}")


@schemas_app.command("check")
def check(directory: Path = DIRECTORY) -> None:
    """Fail when the schema files differ from the models."""
    stale = [
        name
        for name, schema in topic_schemas(Settings().worker.decode_limits()).items()
        if not (directory / name).is_file() or (directory / name).read_bytes() != render(schema)
    ]
    if stale:
        typer.echo(f"stale schemas (run `stream-app schemas write`): {', '.join(stale)}", err=True)
        raise typer.Exit(1)
    typer.echo("schemas up to date")
