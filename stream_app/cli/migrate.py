"""``stream-app migrate``: one-off conversions of stored data after an upgrade."""

from __future__ import annotations

import asyncio
import time

import typer

from stream_app.settings import Settings
from stream_app.storage.connection import redis_client
from stream_app.storage.layout import Keys
from stream_app.storage.migrate import BATCH, EventKeyMigration, Tally

migrate_app = typer.Typer(help="One-off conversions of stored data (README, Upgrading).")


@migrate_app.command("event-keys")
def event_keys(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Count what would change, change nothing."
    ),
    batch: int = typer.Option(BATCH, "--batch", min=1, help="Keys per pipeline."),
) -> None:
    """Convert event ids stored as 16 hex digits (before event_key was a decimal) in the id
    indexes, parked readings and basket run markers. Run once before upgraded workers
    start; idempotent."""
    started = time.monotonic()
    tallies = asyncio.run(_migrate(Settings(), dry_run, batch))
    verb = "would convert" if dry_run else "converted"
    for kind, tally in tallies.items():
        typer.echo(_line(kind, tally, verb))
    typer.echo(f"done in {time.monotonic() - started:.1f} s{' (dry run)' if dry_run else ''}")


def _line(kind: str, tally: Tally, verb: str) -> str:
    line = f"{kind}: {tally.keys} keys, {verb} {tally.ids} ids in {tally.changed} keys"
    if tally.undecided:
        line += f"; {tally.undecided} ids of 16 digits left as decimals (no hex id met)"
    return line


async def _migrate(settings: Settings, dry_run: bool, batch: int) -> dict[str, Tally]:
    redis = redis_client(settings)
    try:
        keys = Keys(settings.redis.key_prefix)
        return await EventKeyMigration(redis, keys, dry_run=dry_run, batch=batch).run()
    finally:
        await redis.aclose()
