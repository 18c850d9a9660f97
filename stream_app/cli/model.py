"""``stream-app model status``: how the engagement model does, from its last snapshot."""

from __future__ import annotations

import asyncio

import typer

from stream_app.settings import Settings
from stream_app.storage.configured import keys_of
from stream_app.storage.connection import redis_client
from stream_app.storage.scoring import ModelStore
from stream_app.streaming.learning import MODEL

model_app = typer.Typer(help="The online engagement model.", no_args_is_help=True)


@model_app.command("status")
def status() -> None:
    """Version, labels seen, rolling AUC and log loss, drifts and the bandit's reward rate."""
    settings = Settings()
    found = asyncio.run(_read(settings))
    if found is None:
        typer.echo(
            "no model snapshot yet (the learner publishes one every "
            f"{settings.model.checkpoint_interval_s:g} s once it has learned labels)"
        )
        raise typer.Exit(1)
    version, meta = found
    typer.echo(f"model {version}")
    for name in sorted(meta):
        typer.echo(f"  {name:<22} {meta[name]:,.4g}")


async def _read(settings: Settings) -> tuple[str, dict[str, float]] | None:
    redis = redis_client(settings)
    try:
        store = ModelStore(redis, keys_of(settings))
        version = await store.version(MODEL)
        if version is None:
            return None
        return version, await store.meta(MODEL)
    finally:
        await redis.aclose()
