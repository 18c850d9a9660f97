"""Bare Faust (faust-streaming 0.15): one agent, configured as ``bench.bare_faust``.

Settings: ``faust_app(settings)`` with the default ``Settings`` (the worker's broker
tuning and transport driver: 10 s session and rebalance timeouts, commit every 1000
messages or 1 s, earliest offset, its poll size and stream buffer; the job reports
them) but ``fetch_max_wait_ms`` (the bench's); an agent with ``concurrency=1`` over
``stream.take_events(500, within=0.05)``, raw key/value serializers and
``orjson.loads``, uvloop. The backlog topic is not one of the worker's batched
inbound topics, so every record is its own Faust message, as in stock Faust.
``redis`` mode: one redis.asyncio pipeline per batch.
"""

from __future__ import annotations

import argparse
from typing import Any

import orjson
from redis.asyncio import Redis

from bench.peer_jobs import Progress, consume_batch, start_faust_job
from stream_app.settings import Settings
from stream_app.streaming.app import faust_app

#: ``stream.take_events`` batching: at most this many events, waiting at most this long.
TAKE_EVENTS = 500
TAKE_WITHIN_S = 0.05


def create_app(settings: Settings, args: argparse.Namespace, progress: Progress) -> Any:
    app = faust_app(settings)
    topic = app.topic(args.topic, key_serializer="raw", value_serializer="raw")

    @app.agent(topic, concurrency=1)  # type: ignore[untyped-decorator]  # Faust is untyped
    async def consume(stream: Any) -> None:
        client = Redis.from_url(args.redis_url)
        async for events in stream.take_events(TAKE_EVENTS, within=TAKE_WITHIN_S):
            values = [orjson.loads(event.message.value) for event in events]
            await consume_batch(values, args, progress, client)

    return app


def main(argv: list[str] | None = None) -> None:
    from faust import Worker

    settings, progress, app = start_faust_job(__doc__, argv, create_app)
    progress.settings = {
        "take_events": [TAKE_EVENTS, TAKE_WITHIN_S],
        "fetch_max_wait_ms": settings.kafka.fetch_max_wait_ms,
        "session_timeout_s": app.conf.broker_session_timeout,
        "rebalance_timeout_s": app.conf.broker_rebalance_timeout,
        "commit_every": app.conf.broker_commit_every,
        "commit_interval_s": app.conf.broker_commit_interval,
        "stream_buffer_maxsize": app.conf.stream_buffer_maxsize,
        "max_poll_records": app.conf.broker_max_poll_records,
        "broker_scheme": str(app.conf.broker[0]).split(":", 1)[0],
        "loop": "uvloop",
    }
    Worker(app, loglevel=settings.log.level, quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
