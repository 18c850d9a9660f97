"""``stream-app cutover``: after a backfill, bring its customers to now without a storm.

History arms no check, so a silent backfilled customer would never be looked at by a
time-based campaign (win-back, replenishment) nor have their segments brought to now.
This arms each one's normal segment check (the timer's path: segments, then profile
triggers), one customer per slot at ``STREAM_APP_DECISIONS__CUTOVER_PER_MINUTE`` a
minute. An explicit step, not the worker's: only the operator knows when the history
is complete, and a customer evaluated half-way through their history would be judged
on part of it. Run it once the load is done; a later load is cut over by running it
again (each customer is armed once per load, slots never overlap).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import typer

from stream_app.clock import from_ms, to_ms, utc_now
from stream_app.settings import Settings
from stream_app.storage.configured import keys_of
from stream_app.storage.connection import redis_client
from stream_app.storage.schedule import CutOver, ScheduleStore


def cutover(
    per_minute: int | None = typer.Option(
        None,
        "--per-minute",
        min=1,
        help="Checks a minute (default: STREAM_APP_DECISIONS__CUTOVER_PER_MINUTE).",
    ),
) -> None:
    """Arm the due checks of every backfilled customer, rate-limited, so time-based
    campaigns and segments pick them up at the cap, never as a burst."""
    settings = Settings()
    rate = per_minute or settings.decisions.cutover_per_minute
    done = asyncio.run(_cut_over(settings, rate))
    if not done.armed or done.first_ms is None or done.last_ms is None:
        typer.echo("no backfilled customer waits for the cut-over")
        return
    typer.echo(
        f"armed {done.armed} backfilled customers' checks, {rate} a minute, "
        f"from {from_ms(done.first_ms):%H:%M:%S} to {from_ms(done.last_ms):%H:%M:%S} UTC"
    )


async def _cut_over(settings: Settings, per_minute: int) -> CutOver:
    # The first slot waits one longest timer sleep, so every worker's timer has looked
    # at the schedule by then and wakes for each slot on time.
    start = utc_now() + settings.decisions.timer_max_sleep + timedelta(seconds=1)
    redis = redis_client(settings)
    try:
        store = ScheduleStore(redis, keys_of(settings))
        return await store.cut_over(to_ms(start), per_minute)
    finally:
        await redis.aclose()
