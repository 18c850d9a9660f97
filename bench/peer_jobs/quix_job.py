"""Quix Streams 3.x: a StreamingDataFrame over the topic, JSON-decoded by Quix itself.

Settings: ``commit_every=500`` (a checkpoint, i.e. offset commit and sink flush,
every 500 messages, as the earlier measurement did; with only the default 5 s
``commit_interval`` a batching sink reaches Redis in 5 s bursts), ``auto_offset_reset=
"earliest"``, ``value_deserializer="json"`` (orjson inside), consumer
``session.timeout.ms=10000`` (librdkafka's 45 s default makes Tansu answer the group
join only after ~23 s), ``fetch.wait.max.ms`` (the bench's), ``loglevel="WARNING"``;
everything else Quix's defaults. ``redis`` mode: a ``BatchingSink`` (Quix's documented
way to write batches), whose ``write`` sends one pipeline per checkpoint and
partition with sync redis-py.
"""

from __future__ import annotations

from typing import Any

import redis
from quixstreams import Application
from quixstreams.sinks import BatchingSink, SinkBatch

from bench.peer_jobs import Progress, parse_args, queue_updates

COMMIT_EVERY = 500


class RedisHashSink(BatchingSink):
    """Per-customer hash updates, one pipeline per flushed batch."""

    def __init__(self, redis_url: str, prefix: str, progress: Progress) -> None:
        super().__init__()
        self._redis_url = redis_url
        self._prefix = prefix
        self._progress = progress
        self._client: redis.Redis | None = None

    def setup(self) -> None:
        self._client = redis.Redis.from_url(self._redis_url)
        self._client.ping()

    def write(self, batch: SinkBatch) -> None:
        assert self._client is not None
        pipe = self._client.pipeline(transaction=False)
        for item in batch:
            queue_updates(pipe, self._prefix, item.value)
        pipe.execute()
        self._progress.add(batch.size)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv)
    consumer_config: dict[str, Any] = {
        "session.timeout.ms": 10_000,
        "fetch.wait.max.ms": args.fetch_wait_ms,
    }
    progress = Progress(
        args, {"commit_every": COMMIT_EVERY, "consumer_extra_config": consumer_config}
    )
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        commit_every=COMMIT_EVERY,
        consumer_extra_config=consumer_config,
        state_dir=args.workdir / "quix-state",
        loglevel="WARNING",
    )
    sdf = app.dataframe(app.topic(args.topic, value_deserializer="json"))
    if args.mode == "redis":
        sdf.sink(RedisHashSink(args.redis_url, args.prefix, progress))
    elif args.mode == "latency":
        sdf.update(progress.observe)
    else:
        sdf.update(lambda _value: progress.add(1))
    app.run()


if __name__ == "__main__":
    main()
