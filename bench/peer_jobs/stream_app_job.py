"""Our worker's consumer path (faust-streaming with our transport driver), the peers' jobs.

Settings: ``faust_app(settings, batched={topic})``, the worker's own Faust app, so each
partition's fetch reaches the agent as one message (``streaming.transport``), with the
worker's defaults (the bench's fetch wait, 2000 records per poll, a stream buffer of 8
batches) and its agent loop: ``take_events(64, within=batch_gather_ms)`` over those
batch messages, each record ``orjson.loads``-ed, uvloop. ``redis`` mode: one
redis.asyncio pipeline per gathered batch, as the other jobs. This is the consumer the
full pipeline (``bench.throughput``) runs in; here it does only the peers' minimal job.
"""

from __future__ import annotations

import argparse
from typing import Any

import orjson
from redis.asyncio import Redis

from bench.peer_jobs import Progress, consume_batch, start_faust_job
from stream_app.settings import Settings
from stream_app.streaming.app import GATHER_MAX_BATCHES, faust_app


def create_app(settings: Settings, args: argparse.Namespace, progress: Progress) -> Any:
    app = faust_app(settings, frozenset({args.topic}))
    topic = app.topic(args.topic, key_serializer="raw", value_serializer="raw")
    gather_s = settings.worker.batch_gather_ms / 1000

    @app.agent(topic, concurrency=1)  # type: ignore[untyped-decorator]  # Faust is untyped
    async def consume(stream: Any) -> None:
        client = Redis.from_url(args.redis_url)
        async for batches in stream.take_events(GATHER_MAX_BATCHES, within=gather_s):
            values = [orjson.loads(r.value) for batch in batches for r in batch.value]
            await consume_batch(values, args, progress, client)

    return app


def main(argv: list[str] | None = None) -> None:
    from stream_app.cli.worker import faust_worker, tune_gc

    settings, progress, app = start_faust_job(__doc__, argv, create_app)
    tune_gc()
    progress.settings = {
        "batched": True,
        "gather": [GATHER_MAX_BATCHES, settings.worker.batch_gather_ms / 1000],
        "fetch_max_wait_ms": settings.kafka.fetch_max_wait_ms,
        "max_poll_records": settings.kafka.max_poll_records,
        "stream_buffer_batches": settings.worker.stream_buffer_batches,
        "loop": "uvloop",
    }
    faust_worker(app, settings).execute_from_commandline()


if __name__ == "__main__":
    main()
