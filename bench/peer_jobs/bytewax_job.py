"""Bytewax 0.21: ``KafkaSource`` -> ``map(orjson.loads)`` -> a ``DynamicSink``.

Settings: ``KafkaSource`` defaults (``batch_size=1000`` messages per poll, one
librdkafka consumer per partition) but ``fetch.wait.max.ms`` (the bench's, through
``add_config``), one worker in one process (``cli_main(flow, workers_per_process=1)``,
what ``python -m bytewax.run`` does), no recovery.
The sink's ``write_batch`` gets what the map step emitted in one activation:
``redis`` mode sends it as one pipeline with sync redis-py.

``KafkaSource`` joins no consumer group: it assigns every partition itself and
keeps offsets in Bytewax's own recovery store (off here), so ``--group`` is unused
and each run starts at the earliest offset.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import orjson
import redis
from bytewax import operators as op
from bytewax.connectors.kafka import KafkaSource
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.run import cli_main

from bench.peer_jobs import Progress, parse_args, queue_updates

Write = Callable[[list[Any]], None]


class _Partition(StatelessSinkPartition[Any]):
    def __init__(self, write: Write) -> None:
        self._write = write

    def write_batch(self, items: list[Any]) -> None:
        self._write(items)


class CallbackSink(DynamicSink[Any]):
    """Hands every batch of items to ``write`` (one worker, so one partition)."""

    def __init__(self, write: Write) -> None:
        self._write = write

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Partition:
        return _Partition(self._write)


def writer(args: argparse.Namespace, progress: Progress) -> Write:
    """What the sink does with a batch of decoded events in ``args.mode``."""
    if args.mode == "latency":

        def observe(values: list[Any]) -> None:
            for value in values:
                progress.observe(value)

        return observe
    if args.mode == "decode":
        return lambda values: progress.add(len(values))
    client = redis.Redis.from_url(args.redis_url)

    def to_redis(values: list[Any]) -> None:
        pipe = client.pipeline(transaction=False)
        for value in values:
            queue_updates(pipe, args.prefix, value)
        pipe.execute()
        progress.add(len(values))

    return to_redis


def decode(message: Any) -> Any:
    """A message's JSON value (``KafkaSource`` raises on Kafka errors, so no error items)."""
    return orjson.loads(message.value)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv)
    config = {"fetch.wait.max.ms": str(args.fetch_wait_ms)}
    progress = Progress(args, {"add_config": config, "batch_size": 1000, "workers": 1})
    flow = Dataflow("peers")
    messages = op.input(
        "kafka", flow, KafkaSource([args.bootstrap], [args.topic], add_config=config)
    )
    values = op.map("decode", messages, decode)
    op.output("sink", values, CallbackSink(writer(args, progress)))
    cli_main(flow, workers_per_process=1)  # type: ignore[no-untyped-call]  # a Rust function


if __name__ == "__main__":
    main()
