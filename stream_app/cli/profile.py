"""``stream-app profile``: a customer's derived profile, now or as of a time, for operators
(what ``GET /v1/profiles/{id}`` answers, read straight from Redis)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import typer

from stream_app.api.routes_profiles import profile_at
from stream_app.clock import utc_now
from stream_app.segments.rules import SegmentRules, load_segments
from stream_app.settings import Settings
from stream_app.storage.bundle import build_stores
from stream_app.storage.connection import redis_client


def profile(
    customer_id: str = typer.Argument(..., help="The customer."),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="RFC 3339 time with its offset (default now, never in the future): life cycle, "
        "recency, decay and segments are derived then.",
    ),
) -> None:
    """Print a customer's profile (JSON), as of now or as of a time."""
    now = utc_now()
    at = now if as_of is None else _time(as_of, now)
    found = asyncio.run(_read(Settings(), customer_id, at))
    if found is None:
        typer.echo(f"no profile: {customer_id}", err=True)
        raise typer.Exit(1)
    typer.echo(found)


def _time(text: str, now: datetime) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter("not an RFC 3339 date-time", param_hint="--as-of") from exc
    if at.tzinfo is None:
        raise typer.BadParameter("needs its offset (Z or +hh:mm)", param_hint="--as-of")
    if at > now:
        raise typer.BadParameter("in the future", param_hint="--as-of")
    return at


async def _read(settings: Settings, customer_id: str, at: datetime) -> str | None:
    redis = redis_client(settings)
    try:
        [state] = await build_stores(redis, settings).profiles.stored([customer_id])
    finally:
        await redis.aclose()
    if not state.exists:
        return None
    rules = SegmentRules(load_segments(settings.segments.file))
    shown = profile_at(state, at, settings.profiles.value_rules(), rules)
    return shown.model_dump_json(indent=2)
