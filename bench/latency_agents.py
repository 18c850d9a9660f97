"""The consumers of the latency steps of ``bench.throughput``: worker or bare Faust.

``worker`` is the unchanged ``stream-app worker``; ``bare`` is the decode-only
Faust app of ``bench.bare_faust`` (same ``faust_app`` tuning, ``take_events``
batching, uvloop), that also observes event time -> consumed in a Prometheus
histogram (the worker's latency buckets) on ``metrics_port``, so both are
scraped alike. Bare Faust's latency is the floor the pipeline's adds to.

``--fetch-wait-ms`` replaces Faust 0.15's hard-coded consumer
``fetch_max_wait_ms=1500`` (``faust/transport/drivers/aiokafka.py``). Apache
Kafka answers a fetch as soon as ``fetch_min_bytes`` (1) are there, so there the
value only bounds idle polls; the embedded Tansu broker holds fetches for a large
part of it even when records are waiting (~0.4-0.8 s per event at 1500 ms). The
patch is for measuring only: the product has no such setting.

Configured like the worker, by ``STREAM_APP_*`` variables:

    python -m bench.latency_agents bare --fetch-wait-ms 10
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from typing import Any

import aiokafka
import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram

from bench.bare_faust import FAUST_TAKE
from stream_app.metrics.engine import LATENCY_BUCKETS
from stream_app.metrics.server import serve_metrics
from stream_app.settings import Settings
from stream_app.streaming.app import faust_app

#: Faust's hard-coded value, the only one replaced (other consumers keep theirs).
FAUST_FETCH_WAIT_MS = 1500
BARE_LATENCY = "bench_bare_consume_latency_seconds"
BARE_EVENTS = "bench_bare_events"


def patch_fetch_wait(wait_ms: int) -> None:
    """Make every ``AIOKafkaConsumer`` created with Faust's 1500 ms wait use ``wait_ms``.

    Faust looks the class up on the ``aiokafka`` module when it builds its consumer,
    so replacing the module attribute before the app starts is enough.
    """
    original = aiokafka.AIOKafkaConsumer

    class ShortWaitConsumer(original):  # type: ignore[misc, valid-type]  # aiokafka is untyped
        def __init__(self, *topics: Any, **kwargs: Any) -> None:
            if kwargs.get("fetch_max_wait_ms") == FAUST_FETCH_WAIT_MS:
                kwargs["fetch_max_wait_ms"] = wait_ms
            super().__init__(*topics, **kwargs)

    aiokafka.AIOKafkaConsumer = ShortWaitConsumer


def bare_app(settings: Settings) -> Any:
    """Decode-only agent observing each event's time from its event time to its batch."""
    app = faust_app(settings)
    inbound = app.topic(*settings.topics.inbound(), key_serializer="raw", value_serializer="raw")
    registry = CollectorRegistry()
    latency = Histogram(
        BARE_LATENCY, "Event time to consumed (bare Faust).", buckets=LATENCY_BUCKETS,
        registry=registry,
    )  # fmt: skip
    consumed = Counter(BARE_EVENTS, "Events consumed (bare Faust).", registry=registry)

    @app.agent(inbound, concurrency=1)  # type: ignore[untyped-decorator]  # Faust is untyped
    async def decode_only(stream: Any) -> None:
        async for events in stream.take_events(*FAUST_TAKE):
            now = time.time()
            count = 0
            for event in events:
                value = orjson.loads(event.message.value)
                for item in value.get("events", (value,)):
                    at = datetime.fromisoformat(item["event_time"]).timestamp()
                    latency.observe(max(0.0, now - at))
                    count += 1
            consumed.inc(count)

    @app.task  # type: ignore[untyped-decorator]
    async def serve() -> None:
        serve_metrics(registry, settings.metrics_port, host="127.0.0.1")

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("worker", "bare"))
    parser.add_argument("--fetch-wait-ms", type=int, default=0, help="0: Faust's 1500 ms")
    args = parser.parse_args(argv)
    if args.fetch_wait_ms > 0:
        patch_fetch_wait(args.fetch_wait_ms)
    settings = Settings()
    if args.kind == "worker":
        from stream_app.cli.worker import run_worker

        run_worker(settings)
        return

    import uvloop
    from faust import Worker

    uvloop.install()  # as stream_app.cli.worker.run_worker does
    Worker(bare_app(settings), loglevel=settings.log_level, quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
