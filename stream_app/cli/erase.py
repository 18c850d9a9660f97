"""``stream-app erase``: forget a customer (right to erasure), for operators."""

from __future__ import annotations

import asyncio

import typer

from stream_app.clock import utc_now
from stream_app.settings import Settings
from stream_app.storage.configured import keys_of
from stream_app.storage.connection import redis_client
from stream_app.storage.erasure import ErasureStore


def erase(
    customer_id: str = typer.Argument(..., help="The customer to forget."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete everything the engine keeps of a customer (and of the anonymous ids linked
    to them) and drop their later events."""
    if not yes:
        typer.confirm(f"Forget customer {customer_id} for good?", abort=True)
    asyncio.run(_erase(Settings(), customer_id))
    typer.echo(f"forgotten: {customer_id} (later events of theirs are dropped)")


async def _erase(settings: Settings, customer_id: str) -> None:
    redis = redis_client(settings)
    try:
        await ErasureStore(redis, keys_of(settings)).erase(customer_id, utc_now())
    finally:
        await redis.aclose()
