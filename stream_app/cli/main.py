"""``stream-app`` command line (Typer): one sub-command per job, each a thin adapter."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="stream-app",
    help="Real-time precision-marketing engine: events in, profiles in Redis, decisions out.",
    no_args_is_help=True,
    add_completion=False,
)


def main() -> None:
    """Console-script entry point."""
    app()
